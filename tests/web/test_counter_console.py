"""The counter story in real browsers (Chromium), two people at once: a clerk at a counter
(1280x800) logs in with VNeID, picks her counter, asks for an authorization and shows the QR
code; a citizen's phone (360x740) reads that QR code, logs in at level 2 and approves; the
clerk's screen changes by itself; she files a dossier (a double click files once) and prints the
receipt (A5 and 80 mm); the receipt's QR code, read off the screen, opens the public verify page,
which says the receipt is genuine and names her. Screenshots of every step."""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from agents.submissions import dossier_number
from tests.fixtures.server import (
    ADMIN_TOKEN,
    Api,
    Server,
    clean_env,
    free_port,
    running_server,
)
from tests.web.conftest import SCREENSHOTS
from tests.web.test_citizen_pages import SIZES, check_page

pytestmark = pytest.mark.slow
CLERK_PID, CLERK_NAME = "001088123456", "Trần Thị Hoa"
CITIZEN_PID, CITIZEN_NAME = "001099012345", "Nguyễn Văn An"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("counter")
    with running_server(tmp, free_port(), env=clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)) as s:
        yield s


@pytest.fixture(scope="module")
def counters(server: Server) -> list[dict[str, Any]]:
    """VNPost with two counters; the clerk works at both (so she is asked which)."""
    api = Api(server.base)
    httpx.post(
        f"{server.base}/v1/agents",
        headers=api.admin,
        json={"code": "VNPOST", "name": "Bưu điện Việt Nam", "kind": "post_office"},
    ).raise_for_status()
    made = [
        httpx.post(
            f"{server.base}/v1/agents/VNPOST/counters",
            headers=api.admin,
            json={"name": name, "ward_code": ward},
        ).json()
        for name, ward in (("Bưu cục Hàng Trống", "00070"), ("Bưu cục Cầu Giấy", "00167"))
    ]
    httpx.post(
        f"{server.base}/v1/agents/VNPOST/staff",
        headers=api.admin,
        json={
            "pid": CLERK_PID,
            "name": CLERK_NAME,
            "staff_code": "NV-0042",
            "counters": [c["id"] for c in made],
        },
    ).raise_for_status()
    return made


def vneid_login(page: Any, pid: str, name: str, level: str = "2") -> None:
    """The development VNeID page (a real provider's page in production)."""
    page.get_by_label("Số định danh cá nhân (PID)").fill(pid)
    page.get_by_label("Họ và tên").fill(name)
    page.get_by_label(f"Mức {level}").check()
    page.get_by_role("button", name="Đăng nhập").click()


def read_qr(page: Any, selector: str) -> str:
    """What a phone's camera reads off the screen."""
    png = page.locator(selector).screenshot(path="/tmp/qr-debug.png")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    # zxing sometimes reports one symbol twice (two finder-pattern fits): one text is one code
    texts = {str(code.text) for code in found}
    assert len(texts) == 1, f"{len(texts)} QR codes read in {selector}: {texts}"
    return texts.pop()


def test_the_counter_story_in_two_browsers(
    chromium: Any, server: Server, counters: list[dict[str, Any]]
) -> None:
    base = server.base
    clerk_ctx = chromium.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    phone_ctx = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN")
    clerk, phone = clerk_ctx.new_page(), phone_ctx.new_page()

    # The clerk logs in (level 2) and is asked which of her two counters she is at.
    clerk.goto(f"{base}/counter")
    expect(clerk).to_have_url(re.compile(r"/dev/vneid/authorize"))
    vneid_login(clerk, CLERK_PID, CLERK_NAME)
    expect(clerk.get_by_role("heading", level=1)).to_have_text("Hôm nay bạn làm việc tại quầy nào?")
    check_page(clerk, "counter-choose")
    clerk.get_by_label(re.compile("Bưu cục Cầu Giấy")).check()
    clerk.get_by_role("button", name="Bắt đầu làm việc tại đây").click()
    expect(clerk.get_by_role("heading", level=1)).to_have_text(
        "Bưu điện Việt Nam: Bưu cục Cầu Giấy"
    )
    expect(clerk.locator("header .who")).to_have_text(f"{CLERK_NAME} · NV-0042")
    check_page(clerk, "counter-console")

    # She asks for two uses of the judicial record procedure and shows the QR code.
    clerk.get_by_label("Tìm trong danh mục thủ tục").fill("ly lich tu phap")
    clerk.locator("#procedures li:not([hidden]) input").first.check()
    clerk.get_by_label("Số lần").fill("2")
    # required, and marked so in words (not by a colour or an asterisk alone)
    assert clerk.locator("label[for=purpose]").inner_text() == "Lý do (công dân sẽ đọc) (bắt buộc)"
    clerk.get_by_label("Lý do (công dân sẽ đọc)").fill("Nộp hồ sơ cấp phiếu lý lịch tư pháp")
    clerk.get_by_role("button", name="Hiện mã QR").click()
    expect(clerk.locator("#request-status")).to_have_text(
        "Đang chờ công dân đồng ý trên điện thoại"
    )
    check_page(clerk, "counter-request-qr")
    clerk.set_viewport_size(SIZES["desktop"])
    approve_url = read_qr(clerk, ".bigqr")
    assert re.fullmatch(rf"{re.escape(base)}/r/[A-HJ-NP-Z2-9]{{8}}", approve_url), approve_url

    # The citizen's phone opens what it read, logs in at level 2 and approves.
    phone.goto(approve_url)
    vneid_login(phone, CITIZEN_PID, CITIZEN_NAME)
    expect(phone.get_by_role("heading", level=1)).to_have_text("Một quầy xin bạn ủy quyền")
    phone.get_by_role("button", name="Xem nội dung yêu cầu").click()  # the GET looks up nothing
    expect(phone.get_by_text("Bưu cục Cầu Giấy", exact=False)).to_be_visible()
    expect(phone.get_by_text("NV-0042", exact=False)).to_be_visible()
    check_page(phone, "counter-approve-phone")
    phone.get_by_role("button", name="Đồng ý và ký").click()
    expect(phone).to_have_url(re.compile(r"/app/authorizations/dlg_"))

    # The clerk's screen changes by itself: nobody touches it.
    expect(clerk.locator("#request-status")).to_have_text(
        "Đã đồng ý: ủy quyền đã sẵn sàng", timeout=5000
    )
    expect(clerk.locator(".bigqr")).to_be_hidden()  # the code is spent: nobody scans it again
    clerk.screenshot(path=str(SCREENSHOTS / "counter-request-approved-desktop.png"))

    # She files a dossier; an impatient double click files it once.
    clerk.get_by_role("link", name="Nộp hồ sơ theo ủy quyền này").click()
    expect(clerk.get_by_text(f"Cho {CITIZEN_NAME}")).to_be_visible()
    clerk.get_by_label("Trường 1: tên").fill("Họ tên người yêu cầu")
    clerk.locator("#v0").fill(CITIZEN_NAME)
    clerk.get_by_role("button", name="Thêm một trường").click()
    rows = clerk.locator(".field-row")
    assert rows.count() == 7
    check_page(clerk, "counter-file")
    clerk.set_viewport_size(SIZES["desktop"])
    clerk.get_by_role("button", name="Nộp hồ sơ (tính 1 lần sử dụng)").dblclick()
    expect(clerk.get_by_role("heading", level=1)).to_have_text("Biên nhận hồ sơ")
    receipt_text = clerk.locator(".receipt").inner_text()
    assert "NV-0042 (đã xác thực bằng VNeID)" in receipt_text
    assert "Bưu cục Cầu Giấy" in receipt_text and "••••••••2345" in receipt_text
    check_page(clerk, "counter-receipt-a5")
    submission_id = clerk.url.split("/counter/submissions/")[1].split("?")[0]
    number = dossier_number(submission_id)  # what the receipt prints, and people read out
    assert clerk.locator(".receipt dd strong").first.inner_text() == number
    # Back, then "Nộp hồ sơ" again: the same draft, so the same receipt, no second use.
    clerk.go_back()
    expect(clerk.get_by_text(f"Cho {CITIZEN_NAME}")).to_be_visible()
    clerk.get_by_label("Trường 1: tên").fill("Họ tên người yêu cầu")
    clerk.locator("#v0").fill(CITIZEN_NAME)
    clerk.get_by_role("button", name="Nộp hồ sơ (tính 1 lần sử dụng)").click()
    expect(clerk.get_by_role("heading", level=1)).to_have_text("Biên nhận hồ sơ")
    assert clerk.locator(".receipt dd strong").first.inner_text() == number

    # Exactly one use was consumed (one left of two), and the receipt names her, authenticated.
    citizen = Api(base).citizen(CITIZEN_PID)
    held = httpx.get(f"{base}/v1/delegations", headers=citizen).json()
    assert [d["uses"] for d in held] == [1]
    filed = httpx.get(f"{base}/v1/submissions/{submission_id}", headers=citizen).json()
    assert filed["act"]["sub"] == "NV-0042" and filed["act"]["authenticated"] is True
    assert filed["dossier"] == {"Họ tên người yêu cầu": CITIZEN_NAME}

    # Printed: an A5 page, or an 80 mm roll.
    clerk.emulate_media(media="print")
    for layout, width_mm in (("a5", 148), ("80mm", 80)):
        clerk.goto(f"{base}/counter/submissions/{submission_id}?layout={layout}")
        clerk.screenshot(path=str(SCREENSHOTS / f"counter-receipt-print-{layout}.png"))
        pdf = clerk.pdf(prefer_css_page_size=True)
        info = subprocess.run(
            ["pdfinfo", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        width_pt = float(re.search(r"Page size:\s+([\d.]+) x", info).group(1))  # type: ignore[union-attr]
        assert abs(width_pt / 72 * 25.4 - width_mm) < 1, info
        # one sheet, one slip: the QR code and the line on how to check it on the same page
        assert re.search(r"Pages:\s+1\n", info), info
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        assert "quét mã QR" in text and "dán nó" not in text, text
    clerk.emulate_media(media="screen")

    # Anyone scans the receipt's QR code: the public verify page says it is genuine.
    clerk.set_viewport_size(SIZES["desktop"])
    clerk.goto(f"{base}/counter/submissions/{submission_id}")
    verify_url = read_qr(clerk, ".receipt-qr")
    assert verify_url.startswith(f"{base}/verify#receipt=")
    verifier = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    verifier.goto(verify_url)
    expect(verifier.get_by_role("heading", level=2)).to_have_text("Biên nhận hợp lệ")
    report = verifier.locator(".report").inner_text()
    assert number in report and "NV-0042" in report and "đã xác thực bằng VNeID" in report
    assert "Bưu điện Việt Nam: Bưu cục Cầu Giấy" in report
    assert "#receipt" not in verifier.url  # the receipt never went into an address bar's history
    check_page(verifier, "verify-receipt")
    # This chromium has no QR decoder of its own (BarcodeDetector): no scan button, paste only.
    verifier.goto(f"{base}/verify")
    expect(verifier.get_by_role("button", name="Quét mã QR bằng camera")).to_be_hidden()

    # Where the browser has one (Android's Chrome), the page scans with the camera itself: the
    # camera is Chromium's fake device, and the platform's decoder is played by a stand-in that
    # "sees" the QR code read above.
    scanning = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN")
    scanning.grant_permissions(["camera"], origin=base)
    scanning.add_init_script(
        "window.BarcodeDetector = class { constructor(options) { this.formats = options.formats; }"
        "  async detect(source) { return source.readyState >= 2 && this.formats.includes('qr_code')"
        f"    ? [{{ rawValue: {json.dumps(verify_url)} }}] : []; }} }};"
    )
    scanner = scanning.new_page()
    scanner.goto(f"{base}/verify")
    scanner.get_by_role("button", name="Quét mã QR bằng camera").click()
    expect(scanner.get_by_role("heading", level=2)).to_have_text("Biên nhận hợp lệ")
    assert number in scanner.locator(".report").inner_text()
    scanning.close()

    # The citizen sees who filed it, at which counter, and that the clerk had logged in.
    phone.goto(f"{base}/app/authorizations/{held[0]['id']}")
    expect(phone.locator("table")).to_contain_text("NV-0042 (đã xác thực bằng VNeID)")
    phone.goto(f"{base}/app/activity")
    expect(phone.locator(".events")).to_contain_text(
        "tại Bưu điện Việt Nam: Bưu cục Cầu Giấy (Phường Cầu Giấy), nhân viên NV-0042 "
        "(đã xác thực bằng VNeID)"
    )
    for context in (clerk_ctx, phone_ctx, verifier.context):
        context.close()
