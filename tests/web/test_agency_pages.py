"""The agency clerk in a real browser (Chromium, 1280x800): logs in with VNeID at level 2, finds
a dossier a counter filed in the inbox, reads its fields and who filed it, uploads the result
PDF, which the service signs (PAdES B-LTA) and marks answered; the signed file downloads and
verifies. Also the rules without a browser: only agency staff, CSRF on the upload, only the
responsible agency's dossiers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from agents.submissions import dossier_number
from signing.samples import sample_pdf
from tests.fixtures import pdfs
from tests.fixtures.server import (
    ADMIN_TOKEN,
    Api,
    Server,
    clean_env,
    free_port,
    running_server,
    submission_body,
)
from tests.web.test_citizen_pages import SIZES, check_page
from tests.web.test_counter_console import vneid_login

pytestmark = pytest.mark.slow
ATTACKS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "pdf-attacks"
CLERK_PID, CLERK_NAME = "001077654321", "Phạm Minh Đức"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("agency")
    with running_server(tmp, free_port(), env=clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)) as s:
        yield s


@pytest.fixture(scope="module")
def filed(server: Server) -> dict[str, Any]:
    """A dossier filed at a VNPost counter for the judicial-record office (STP-HN), whose clerk
    is registered."""
    api = Api(server.base)
    counter = api.counter("VNPOST")
    citizen = api.citizen(name="Nguyễn Văn An")
    d = api.grant(citizen, max_uses=2)
    body = submission_body(d["token"])
    body["dossier"] = {"Họ tên": "Nguyễn Văn An", "Nơi sinh": "Hà Nội"}
    made = httpx.post(
        f"{server.base}/v1/submissions",
        headers={**counter, "Idempotency-Key": "agency-page-1"},
        json=body,
    )
    assert made.status_code == 201, made.text
    registered = httpx.post(
        f"{server.base}/v1/agencies/STP-HN/staff",
        headers=api.admin,
        json={"pid": CLERK_PID, "name": CLERK_NAME, "staff_code": "CB-07"},
    )
    assert registered.status_code == 201, registered.text
    return {**made.json(), "citizen": citizen}


def test_an_agency_clerk_answers_a_dossier_in_the_browser(
    chromium: Any, server: Server, filed: dict[str, Any], tmp_path: Path
) -> None:
    base = server.base
    context = chromium.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base}/agency")
    vneid_login(page, CLERK_PID, CLERK_NAME)
    expect(page.get_by_text("Sở Tư pháp thành phố Hà Nội")).to_be_visible()
    page.get_by_role("button", name="Bắt đầu làm việc tại đây").click()  # never on a GET
    expect(page.get_by_role("heading", level=1)).to_have_text("Sở Tư pháp thành phố Hà Nội")
    expect(page.locator("header .who")).to_have_text(f"{CLERK_NAME} · CB-07")
    number = dossier_number(filed["id"])  # "4F2A-9C01": what the clerk reads, and finds by
    row = page.get_by_role("link", name=number)
    expect(row).to_be_visible()
    check_page(page, "agency-inbox")
    page.set_viewport_size(SIZES["desktop"])

    row.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hồ sơ số {number}")
    expect(page.locator("dl").first).to_contain_text("Nguyễn Văn An")  # the citizen, by name
    expect(page.get_by_role("row", name=re.compile("Nơi sinh"))).to_contain_text("Hà Nội")
    expect(page.locator("dl").first).to_contain_text("NV-01 (do quầy tự khai)")
    check_page(page, "agency-submission")
    page.set_viewport_size(SIZES["desktop"])

    result = tmp_path / "ket-qua.pdf"
    result.write_bytes(sample_pdf())
    page.get_by_label(re.compile("Văn bản kết quả")).set_input_files(str(result))
    page.get_by_role("button", name="Ký số và trả kết quả").click()
    expect(page.get_by_role("status")).to_have_text(
        "Kết quả đã được ký số và hồ sơ đã được trả kết quả.", timeout=60_000
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải kết quả đã ký").click()
    signed = Path(download.value.path()).read_bytes()
    report = httpx.post(
        f"{base}/v1/signatures/pdf/verify", files={"file": ("r.pdf", signed, "application/pdf")}
    ).json()
    assert report["valid"] is True and report["signatures"][0]["trusted"] is True
    check_page(page, "agency-answered")

    # Anyone drops the signed result on the public verify page; a manipulated one is refused.
    verifier = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    verifier.goto(f"{base}/verify")
    verifier.get_by_label(re.compile("tệp PDF đã ký số")).set_input_files(download.value.path())
    verifier.get_by_role("button", name="Kiểm tra văn bản").click()
    expect(verifier.locator("#pdf-verdict")).to_have_text("Văn bản ký số hợp lệ và còn nguyên vẹn")
    expect(verifier.locator(".report")).to_contain_text("Sở Tư pháp")
    # ...and which dossier, authorization, counter and clerk it answers, from the receipt inside
    filed_under = verifier.locator(".report")
    expect(filed_under).to_contain_text("Biên nhận kèm theo là thật và đúng hồ sơ này")
    expect(filed_under).to_contain_text(number)
    # who signed, as people name them; the certificate's X.500 names only when asked for
    shown = filed_under.inner_text()
    assert "Người ký\tSở Tư pháp thành phố Hà Nội" in shown or (
        "Người ký\nSở Tư pháp thành phố Hà Nội" in shown
    ), shown
    assert "Common Name" not in shown and "Country" not in shown
    expect(filed_under).to_contain_text("NV-01 (do quầy tự khai)")
    check_page(verifier, "verify-pdf")
    verifier.goto(f"{base}/verify")
    verifier.get_by_label(re.compile("tệp PDF đã ký số")).set_input_files(
        str(ATTACKS / "hide-and-replace-v1-manipulated.pdf")
    )
    verifier.get_by_role("button", name="Kiểm tra văn bản").click()
    expect(verifier.locator("#pdf-verdict")).to_have_text("Chữ ký số của văn bản không hợp lệ")
    # One signed byte changed: invalid, for that reason alone, said in Vietnamese (its chain
    # of certificates is fine, and the page does not claim otherwise).
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(pdfs.flip_signed_byte(signed, b"KET QUA"))
    verifier.goto(f"{base}/verify")
    verifier.get_by_label(re.compile("tệp PDF đã ký số")).set_input_files(str(tampered))
    verifier.get_by_role("button", name="Kiểm tra văn bản").click()
    expect(verifier.locator("#pdf-verdict")).to_have_text("Chữ ký số của văn bản không hợp lệ")
    expect(verifier.locator(".report")).to_contain_text("các byte đã ký đã bị thay đổi")
    expect(verifier.locator(".report")).not_to_contain_text("gốc tin cậy")
    verifier.context.close()

    page.goto(f"{base}/agency?status=completed")
    expect(page.get_by_role("link", name=number)).to_be_visible()
    page.goto(f"{base}/agency")
    expect(page.get_by_role("link", name=number)).to_have_count(0)
    # the number as a person types it (lower case, a space) finds the dossier
    page.goto(f"{base}/agency?status=completed")
    page.get_by_label("Tìm theo số hồ sơ hoặc mã thủ tục").fill(number.lower().replace("-", " "))
    page.get_by_role("button", name="Tìm", exact=True).click()
    expect(page.get_by_role("link", name=number)).to_be_visible()
    seen = httpx.get(f"{base}/v1/submissions/{filed['id']}", headers=filed["citizen"]).json()
    assert seen["status"] == "completed"
    context.close()
