"""A citizen in a real browser (Chromium): logs in at level 2 through the development VNeID page,
grants VNPost one use, sees the QR code; a counter submits through the API; the use appears;
the citizen revokes and the counter's next submission is refused. Also: step-up from level 1, a
forged CSRF request, logout, the language switch, accessibility (axe-core) and screenshots of
every page at 360x740 and 1280x800."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from agents.submissions import dossier_number
from tests.fixtures.server import (
    ADMIN_TOKEN,
    Api,
    Server,
    clean_env,
    free_port,
    running_server,
    submission_body,
)
from tests.web.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("pages")
    with running_server(tmp, free_port(), env=clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)) as s:
        yield s


@pytest.fixture(scope="module")
def counter(server: Server) -> dict[str, str]:
    return Api(server.base).counter("VNPOST")


# An internal id (a counter's, a dossier's, an authorization's, a request's) where a person reads
BARE_ID = re.compile(r"\b(ctr-[0-9a-f]{6,}|sub_[0-9a-f]{6,}|dlg_[0-9a-f]{6,}|arq_[0-9a-f]{6,})")


def check_page(page: Any, name: str) -> None:
    """What every page owes its reader: no serious or critical accessibility violation, no
    internal id in the text they read (things by name), no sideways scrolling on a 360 px
    phone; and a screenshot at both sizes."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in bad]
    shown = page.locator("body").inner_text()
    assert not BARE_ID.search(shown), (name, BARE_ID.findall(shown))
    assert "lượt" not in shown, name  # one word for a use: "lần"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= viewport["width"], f"{name} scrolls sideways at {size}: {wide} px"
        # nor is a table's column cut off behind a scrolling region
        cut = page.evaluate(
            "[...document.querySelectorAll('main td, main th')].filter(c => c.offsetParent)"
            ".filter(c => c.getBoundingClientRect().right > innerWidth + 1).length"
        )
        assert cut == 0, f"{name}: {cut} table cells beyond the screen at {size}"
    page.set_viewport_size(SIZES["phone"])


def log_in(page: Any, base: str, level: str = "2", pid: str = "001099012345") -> None:
    page.goto(f"{base}/")
    page.get_by_role("link", name="Đăng nhập bằng VNeID").click()
    page.get_by_label("Số định danh cá nhân (PID)").fill(pid)
    page.get_by_label("Họ và tên").fill("Nguyễn Văn An")
    page.get_by_label(f"Mức {level}").check()
    page.get_by_role("button", name="Đăng nhập").click()


def grant_in_session(page: Any, base: str, pid: str) -> dict[str, Any]:
    """VNPOST, one use, granted through the JSON API with the page's own session and CSRF
    token (what the pages' scripts may do): the quick way to an authorization to look at."""
    me = page.request.get(f"{base}/v1/me").json()
    assert me["pid"] == pid
    return dict(
        page.request.post(
            f"{base}/v1/delegations",
            headers={"X-CSRF-Token": me["csrf_token"]},
            data={
                "delegate": {"type": "agent", "code": "VNPOST"},
                "procedures": ["1.001612"],
                "valid_until": "2027-06-30T00:00:00Z",
                "max_uses": 1,
            },
        ).json()
    )


def test_grant_watch_and_revoke_in_the_browser(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    context = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN")
    page = context.new_page()
    page.goto(f"{server.base}/")
    check_page(page, "home")
    log_in(page, server.base)
    page.wait_for_url(f"{server.base}/app")
    assert page.get_by_role("heading", level=1).inner_text() == "Ủy quyền của tôi"
    check_page(page, "authorizations-empty")

    page.get_by_role("link", name="Ủy quyền cho người khác").click()
    page.get_by_label("Đại lý", exact=True).select_option("VNPOST")
    page.get_by_label("Tìm trong danh mục thủ tục").fill("ly lich tu phap")  # no diacritics
    visible = page.locator("#procedures li:not([hidden])")
    assert visible.count() >= 1 and all(
        "lý lịch tư pháp" in t.lower() for t in visible.all_inner_texts()
    )
    check_page(page, "grant")
    visible.first.get_by_role("checkbox").check()
    page.get_by_label("Số lần", exact=True).fill("2")
    page.get_by_role("button", name="Xem lại").click()
    summary = page.locator(".summary").inner_text()
    assert "được nộp hồ sơ" in summary and "2 lần" in summary
    # "Sửa" brings the form back as it was left: every choice kept
    page.get_by_role("button", name="Sửa").click()
    assert page.get_by_label("Số lần", exact=True).input_value() == "2"
    assert page.locator("#procedures input:checked").count() == 1
    assert page.get_by_label("Đại lý", exact=True).input_value() == "VNPOST"
    page.get_by_role("button", name="Xem lại").click()
    assert "2 lần" in page.locator(".summary").inner_text()
    check_page(page, "grant-confirm")
    page.get_by_role("button", name="Ký ủy quyền này").click()
    assert page.get_by_role("status").inner_text() == "Đã ký. Hãy đưa mã QR này tại quầy."
    qr = page.locator(".qr svg").bounding_box()
    assert qr and qr["width"] >= 250  # large enough to scan from a phone screen
    check_page(page, "authorization-new")
    delegation_id = page.url.split("/app/authorizations/")[1].split("?")[0]

    # The counter scans the QR code (here: the same token, read through the citizen's session).
    token = page.request.get(f"{server.base}/v1/delegations/{delegation_id}").json()["token"]
    filed = httpx.post(
        f"{server.base}/v1/submissions",
        json=submission_body(token),
        headers={**counter, "Idempotency-Key": "browser-1"},
    )
    assert filed.status_code == 201, filed.text
    page.reload()
    uses = page.locator("table tbody tr")
    assert uses.count() == 1 and "NV-01" in uses.first.inner_text()
    check_page(page, "authorization-used")

    page.get_by_role("link", name="Thu hồi").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Thu hồi ủy quyền này?"
    check_page(page, "revoke-confirm")
    page.get_by_role("button", name="Thu hồi").click()
    assert "Đã thu hồi" in page.locator("dl").inner_text()
    again = httpx.post(
        f"{server.base}/v1/submissions",
        json=submission_body(token, 2),
        headers={**counter, "Idempotency-Key": "browser-2"},
    )
    assert again.status_code == 409 and again.json()["code"] in ("revoked", "exhausted")
    page.goto(f"{server.base}/app")
    check_page(page, "authorizations")
    context.close()


def test_level_1_is_asked_to_log_in_again_at_level_2(chromium: Any, server: Server) -> None:
    context = chromium.new_context(viewport=SIZES["phone"])
    page = context.new_page()
    log_in(page, server.base, level="1", pid="079088011223")
    page.wait_for_url(f"{server.base}/app")
    page.goto(f"{server.base}/app/grant")
    assert page.get_by_role("heading", level=1).inner_text() == "Cần đăng nhập VNeID mức 2"
    check_page(page, "step-up")
    page.get_by_role("link", name="Đăng nhập mức 2").click()
    assert page.get_by_label("Mức 2").is_checked()  # the provider was asked for level 2
    # styled like the service's pages (its style sheet applies), not a bare browser default
    assert page.evaluate("getComputedStyle(document.querySelector('button')).color") != (
        "rgb(0, 0, 0)"
    )
    check_page(page, "dev-vneid-login")
    page.goto(f"{server.base}/auth/callback?code=x&state=forged")
    assert page.get_by_role("heading", level=1).inner_text() == "Đăng nhập không thành công"
    check_page(page, "login-failed")
    context.close()


def test_a_forged_form_is_refused_and_logout_ends_the_session(
    chromium: Any, server: Server
) -> None:
    context = chromium.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    log_in(page, server.base, pid="001199054321")
    page.wait_for_url(f"{server.base}/app")
    forged = page.request.post(
        f"{server.base}/app/authorizations/dlg_x/revoke", form={"csrf_token": "forged"}
    )
    assert forged.status == 403 and "Biểu mẫu này đã cũ" in forged.text()  # a page, in words
    no_token = page.request.post(f"{server.base}/v1/delegations", data={})
    assert no_token.status == 403
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(f"{server.base}/")
    page.goto(f"{server.base}/app")
    assert "/dev/vneid/authorize" in page.url  # logged out: sent to log in
    context.close()


def test_english_at_a_click_and_remembered(chromium: Any, server: Server) -> None:
    context = chromium.new_context(viewport=SIZES["phone"])
    page = context.new_page()
    page.goto(f"{server.base}/")
    page.get_by_role("link", name="English").click()
    assert (
        page.get_by_role("heading", level=1).inner_text() == "Let someone file a procedure for you"
    )
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{server.base}/")
    assert page.locator("html").get_attribute("lang") == "en"  # remembered
    check_page(page, "home-en")
    context.close()


def test_the_activity_page_checks_each_entry_in_the_browser(chromium: Any, server: Server) -> None:
    context = chromium.new_context(viewport=SIZES["phone"])
    page = context.new_page()
    log_in(page, server.base, pid="036099000111")
    page.wait_for_url(f"{server.base}/app")
    page.goto(f"{server.base}/app/activity")
    entries = page.locator("li.event")
    assert entries.count() >= 1 and "trên trình duyệt" in entries.first.inner_text()
    entries.first.get_by_role("button", name="Kiểm tra trong nhật ký đã ký").click()
    verdict = entries.first.locator(".verdict")
    verdict.filter(has_text="Đã xác minh").wait_for()
    assert "ok" in (verdict.get_attribute("class") or "")
    check_page(page, "activity")

    # A server that altered the proof (or the entry) is caught by the page itself.
    def tampered(route: Any) -> None:
        body = route.fetch().json()
        body["audit_path"] = ["00" * 32] + body["audit_path"]
        route.fulfill(json=body)

    page.route("**/v1/audit/proofs/inclusion*", tampered)
    page.reload()
    page.locator("li.event").first.get_by_role(
        "button", name="Kiểm tra trong nhật ký đã ký"
    ).click()
    bad = page.locator("li.event").first.locator(".verdict")
    bad.filter(has_text="KHÔNG xác minh được").wait_for()
    assert "bad" in (bad.get_attribute("class") or "")
    context.close()


def test_a_person_delegate_accepts_in_a_second_browser(chromium: Any, server: Server) -> None:
    grantor = chromium.new_context(viewport=SIZES["phone"]).new_page()
    log_in(grantor, server.base, pid="001088000222")
    grantor.wait_for_url(f"{server.base}/app")
    grantor.goto(f"{server.base}/app/grant")
    grantor.get_by_label("Một người (họ chấp nhận bằng VNeID)").check()
    grantor.get_by_label("Số định danh cá nhân của họ (12 chữ số)").fill("001199054399")
    grantor.locator("#procedures li").first.get_by_role("checkbox").check()
    grantor.get_by_role("button", name="Xem lại").click()
    grantor.get_by_role("button", name="Ký ủy quyền này").click()
    assert "Đang chờ người được ủy quyền chấp nhận" in grantor.locator("dl").inner_text()
    expect(grantor.get_by_role("status")).to_have_text(
        "Đã ký. Người được ủy quyền cần đăng nhập VNeID và chấp nhận, sau đó mới dùng được."
    )
    assert "đưa mã QR" not in grantor.locator("main").inner_text()

    delegate = chromium.new_context(viewport=SIZES["desktop"]).new_page()
    log_in(delegate, server.base, pid="001199054399")
    delegate.wait_for_url(f"{server.base}/app")
    delegate.locator("section[aria-labelledby=received] a").first.click()
    # about themself, the delegate reads that it waits for them, and whose authorization it is
    assert "Đang chờ bạn chấp nhận" in delegate.locator("dl").inner_text()
    assert "thay Nguyễn Văn An" in delegate.locator(".summary").inner_text()
    delegate.get_by_role("link", name="Chấp nhận").click()
    delegate.get_by_role("button", name="Chấp nhận").click()
    assert "Đang hiệu lực" in delegate.locator("dl").inner_text()
    grantor.reload()
    assert "Đang hiệu lực" in grantor.locator("dl").inner_text()


def test_the_grant_form_works_with_the_keyboard_alone(chromium: Any, server: Server) -> None:
    page = chromium.new_context(viewport=SIZES["desktop"]).new_page()
    log_in(page, server.base, pid="001077000333")
    page.wait_for_url(f"{server.base}/app")
    page.goto(f"{server.base}/app/grant")
    reached, outlined = [], []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.id || document.activeElement.textContent.trim(),"
            " getComputedStyle(document.activeElement).outlineStyle]"
        )
        reached.append(focused[0])
        outlined.append(focused[1] != "none")
        if focused[0] == "Xem lại":
            break
    for target in ("to-agent", "agent", "procedure-search", "uses", "until", "Xem lại"):
        assert target in reached, (target, reached)
    assert all(outlined), [r for r, o in zip(reached, outlined, strict=True) if not o]
    page.keyboard.press("Enter")  # submits with nothing chosen: told what to fix, in words
    assert page.get_by_role("alert").inner_text()


def test_a_counter_request_approved_on_the_citizens_phone(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    """The citizen's half of the counter story: the approve URL on a phone, a fresh level-2 login,
    who asks and what, approve; the counter sees the delegation."""
    asked = httpx.post(
        f"{server.base}/v1/authorization-requests",
        headers=counter,
        json={
            "procedures": ["1.001612"],
            "max_uses": 1,
            "valid_until": "2027-06-30T00:00:00+07:00",
            "purpose": "Cụ Lan nhờ bưu điện nộp hồ sơ lý lịch tư pháp",
        },
    ).json()
    phone = chromium.new_context(viewport=SIZES["phone"]).new_page()
    phone.goto(asked["approve_url"])  # not logged in: VNeID at level 2 first
    assert phone.get_by_label("Mức 2").is_checked()
    phone.get_by_label("Số định danh cá nhân (PID)").fill("001099077001")
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.wait_for_url(f"**/r/{asked['code']}")
    assert phone.get_by_role("heading", level=1).inner_text() == "Một quầy xin bạn ủy quyền"
    phone.get_by_role("button", name="Xem nội dung yêu cầu").click()
    assert "Cụ Lan nhờ bưu điện" in phone.locator("main").inner_text()
    check_page(phone, "request-approve")
    phone.get_by_role("button", name="Đồng ý và ký").click()
    phone.wait_for_url("**/app/authorizations/**")
    assert "Đang hiệu lực" in phone.locator("dl").inner_text()
    # the counter has it already: the phone says so, and sends nobody to show a QR code
    expect(phone.get_by_role("status")).to_have_text(
        "Đã ủy quyền. Quầy đã nhận được ủy quyền của bạn, bạn không cần đưa gì thêm."
    )
    assert "đưa mã QR" not in phone.locator("main").inner_text()
    expect(phone.locator(".qr svg")).to_be_hidden()  # folded away, should a counter ask
    check_page(phone, "request-approved")
    seen = httpx.get(
        f"{server.base}/v1/authorization-requests/{asked['id']}", headers=counter
    ).json()
    assert seen["status"] == "approved" and seen["delegation_token"]
    phone.goto(asked["approve_url"])
    phone.get_by_role("button", name="Xem nội dung yêu cầu").click()
    assert phone.get_by_role("status").inner_text() == "Bạn đã đồng ý yêu cầu này."


def test_enter_in_the_procedure_search_searches_and_submits_nothing(
    chromium: Any, server: Server
) -> None:
    """Enter (a phone's Go key) in the catalogue search submitted the whole grant form: the
    search text was lost and a raw validation error showed. Now it stays on the form, the text
    and the filter kept, and with one match left Enter moves to that match."""
    page = chromium.new_context(viewport=SIZES["phone"]).new_page()
    log_in(page, server.base, pid="001077000444")
    page.wait_for_url(f"{server.base}/app")
    page.goto(f"{server.base}/app/grant")
    search = page.get_by_label("Tìm trong danh mục thủ tục")
    search.fill("ly lich tu phap")
    search.press("Enter")
    page.wait_for_timeout(300)  # a submission would have navigated by now
    assert page.url == f"{server.base}/app/grant"
    assert search.input_value() == "ly lich tu phap"
    assert page.get_by_role("alert").count() == 0
    shown = page.locator("#procedures li:not([hidden])")
    assert shown.count() == 1
    assert page.evaluate("() => document.activeElement.value") == "1.001612"
    page.keyboard.press("Space")
    assert page.locator("#p-1\\.001612").is_checked()


def test_the_citizen_downloads_and_verifies_their_signed_result(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    """Only the agency's page linked to result.pdf: the citizen's authorization page now shows
    each dossier's state, and once answered, the signed result to download (and a way to check
    it); the counter is named as people call it, not by its id."""
    from pathlib import Path as _Path

    from signing.samples import text_pdf

    api = Api(server.base)
    page = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    log_in(page, server.base, pid="001077000555")
    page.wait_for_url(f"{server.base}/app")
    granted = grant_in_session(page, server.base, "001077000555")
    filed = httpx.post(
        f"{server.base}/v1/submissions",
        json=submission_body(granted["token"]),
        headers={**counter, "Idempotency-Key": "result-1"},
    ).json()
    page.goto(f"{server.base}/app/authorizations/{granted['id']}")
    row = page.locator("table tbody tr").first
    assert "Đã tiếp nhận, đang chờ cơ quan giải quyết" in row.inner_text()
    assert "ctr-" not in row.inner_text() and "Quầy 1" in row.inner_text()

    answered = httpx.post(
        f"{server.base}/v1/submissions/{filed['id']}/result",
        headers=api.agency(),
        files={
            "file": (
                "kq.pdf",
                text_pdf([b"BT /F1 24 Tf 72 720 Td (KET QUA) Tj ET"]),
                "application/pdf",
            )
        },
        timeout=60,
    )
    assert answered.status_code == 201, answered.text
    page.reload()
    row = page.locator("table tbody tr").first
    assert "Cơ quan đã trả kết quả" in row.inner_text()
    with page.expect_download() as download:
        row.get_by_role("link", name="Tải kết quả đã ký").click()
    signed = _Path(download.value.path()).read_bytes()
    report = httpx.post(
        f"{server.base}/v1/signatures/pdf/verify",
        files={"file": ("r.pdf", signed, "application/pdf")},
    ).json()
    assert report["valid"] is True and report["filed_under"]["submission"] == filed["id"]
    assert report["filed_under"]["receipt_valid"] is True
    row.get_by_role("link", name="Kiểm tra văn bản").click()
    page.wait_for_url(f"{server.base}/verify")
    page.get_by_label(re.compile("tệp PDF đã ký số")).set_input_files(download.value.path())
    page.get_by_role("button", name="Kiểm tra văn bản").click()
    expect(page.locator("#pdf-verdict")).to_have_text("Văn bản ký số hợp lệ và còn nguyên vẹn")
    expect(page.locator(".report")).to_contain_text("Biên nhận kèm theo là thật và đúng hồ sơ này")

    # The activity names the dossier by its number and procedure, the counter by its name, and
    # hands over the signed result too.
    number = dossier_number(filed["id"])
    page.goto(f"{server.base}/app/activity")
    filed_entry = page.get_by_text(re.compile(f"^Hồ sơ số {number} \\(Cấp Phiếu lý lịch tư pháp"))
    expect(filed_entry).to_contain_text("Quầy 1 (Phường Kiến Hưng)")
    signed_entry = page.locator(".event", has_text=f"đã ký kết quả của hồ sơ số {number}")
    expect(signed_entry).to_have_count(1)
    expect(signed_entry).to_contain_text("Cơ quan đã trả kết quả")
    with page.expect_download() as again:
        signed_entry.get_by_role("link", name="Tải kết quả đã ký").click()
    assert _Path(again.value.path()).read_bytes() == signed
    check_page(page, "activity-result")


def test_the_code_as_shown_at_the_counter_opens_its_request_from_the_home_page(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    asked = httpx.post(
        f"{server.base}/v1/authorization-requests",
        headers=counter,
        json={
            "procedures": ["1.001612"],
            "max_uses": 1,
            "valid_until": "2027-06-30T00:00:00+07:00",
            "purpose": "Nộp hồ sơ lý lịch tư pháp",
        },
    ).json()
    code = asked["code"]
    page = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    page.goto(f"{server.base}/")
    # the home page leads everyone somewhere: the citizen, the counter, the agency, a verifier
    for name, href in (
        ("Kiểm tra văn bản ký số, biên nhận hoặc ủy quyền", "/verify"),
        ("Dành cho nhân viên quầy (bưu điện, cửa hàng)", "/counter"),
        ("Dành cho cán bộ cơ quan giải quyết", "/agency"),
    ):
        assert page.get_by_role("link", name=name).get_attribute("href") == href
    # typed as a person reads it off the counter's screen: lower case, with its space
    page.get_by_label(re.compile("Nhập mã quầy đưa cho bạn")).fill(
        f"{code[:4].lower()} {code[4:].lower()}"
    )
    page.get_by_role("button", name="Mở", exact=True).click()
    expect(page.get_by_label("Mức 2")).to_be_checked()  # the provider's page, level 2 first
    page.get_by_label("Số định danh cá nhân (PID)").fill("001099066001")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"**/r/{code}")
    assert page.get_by_role("heading", level=1).inner_text() == "Một quầy xin bạn ủy quyền"
    # and with a dash, from the citizen's own list
    page.goto(f"{server.base}/app")
    page.get_by_label(re.compile("Nhập mã quầy đưa cho bạn")).fill(f"{code[:4]}-{code[4:]}")
    page.get_by_role("button", name="Mở", exact=True).click()
    page.wait_for_url(f"**/r/{code}")
    page.get_by_role("button", name="Xem nội dung yêu cầu").click()
    assert "Nộp hồ sơ lý lịch tư pháp" in page.locator("main").inner_text()


def test_an_ended_authorization_reads_in_the_past_and_offers_nothing_to_revoke(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    page = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    log_in(page, server.base, pid="001077000777")
    page.wait_for_url(f"{server.base}/app")
    granted = grant_in_session(page, server.base, "001077000777")
    page.goto(f"{server.base}/app/authorizations/{granted['id']}")
    assert " được nộp hồ sơ" in page.locator(".summary").inner_text()
    expect(page.get_by_role("link", name="Thu hồi")).to_have_count(1)
    filed = httpx.post(
        f"{server.base}/v1/submissions",
        json=submission_body(granted["token"]),
        headers={**counter, "Idempotency-Key": "ended-1"},
    )
    assert filed.status_code == 201
    page.reload()
    assert "Đã dùng hết số lần" in page.locator("dl").inner_text()
    assert "từng được nộp hồ sơ" in page.locator(".summary").inner_text()
    expect(page.get_by_role("link", name="Thu hồi")).to_have_count(0)  # it can do nothing more
    check_page(page, "authorization-used-up")


def test_refusals_and_field_errors_are_said_in_vietnamese_with_the_way_back(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    """What the API says in English (its problem's title and detail) never reaches a Vietnamese
    page: the page says it by the problem's code, in Vietnamese, with the way back."""
    page = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    log_in(page, server.base, pid="001077000888")
    page.wait_for_url(f"{server.base}/app")

    def no_english(api: httpx.Response) -> str:
        body = api.json()
        shown = page.locator("main").inner_text()
        for words in (body["title"], body["detail"]):
            assert words not in shown, (words, shown)
        return shown

    # a mistyped code at /r/
    page.goto(f"{server.base}/r/ZZZZ9999")
    page.get_by_role("button", name="Xem nội dung yêu cầu").click()
    citizen = Api(server.base).citizen("001077000888")
    shown = no_english(
        httpx.get(f"{server.base}/v1/authorization-requests/by-code/ZZZZ9999", headers=citizen)
    )
    assert page.get_by_role("link", name="Quay lại các ủy quyền của tôi").is_visible()
    assert "Mã lỗi" in shown
    # an unknown page: a page, not JSON
    page.goto(f"{server.base}/app/nothing")
    assert page.get_by_role("heading", level=1).inner_text() == "Không tìm thấy"
    shown = page.locator("main").inner_text()
    assert "Not found" not in shown and "no such resource" not in shown
    assert httpx.get(f"{server.base}/app/nothing").headers["content-type"].startswith("text/html")
    # the grant form: nothing chosen, then a date that is not one; each said by its field
    page.goto(f"{server.base}/app/grant")
    page.get_by_role("button", name="Xem lại").click()
    assert page.get_by_role("alert").inner_text() == "Thủ tục: hãy chọn ít nhất một"
    # a citizen authorizing themself: the service's refusal, in Vietnamese
    page.get_by_label("Một người (họ chấp nhận bằng VNeID)").check()
    page.get_by_label("Số định danh cá nhân của họ (12 chữ số)").fill("001077000888")
    page.locator("#procedures li").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Xem lại").click()
    page.get_by_role("button", name="Ký ủy quyền này").click()
    me = page.request.get(f"{server.base}/v1/me").json()
    refused = httpx.post(
        f"{server.base}/v1/delegations",
        headers=citizen,
        json={
            "delegate": {"type": "person", "pid": "001077000888"},
            "procedures": ["1.001612"],
            "valid_until": "2027-06-30T00:00:00Z",
            "max_uses": 1,
        },
    )
    assert refused.json()["code"] == "self_delegation" and me["pid"] == "001077000888"
    shown = no_english(refused)
    assert "self_delegation" in shown  # the code, for whoever helps them
    check_page(page, "refusal")


def test_a_session_that_ends_while_the_grant_form_is_open_loses_nothing(
    chromium: Any, server: Server, counter: dict[str, str]
) -> None:
    context = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN")
    page = context.new_page()
    log_in(page, server.base, pid="001077000999")
    page.wait_for_url(f"{server.base}/app")
    page.goto(f"{server.base}/app/grant")
    page.get_by_label("Tìm trong danh mục thủ tục").fill("ly lich tu phap")
    page.locator("#procedures li:not([hidden])").first.get_by_role("checkbox").check()
    page.get_by_label("Số lần", exact=True).fill("3")
    chosen = page.locator("#procedures input:checked").get_attribute("value")
    # the session ends meanwhile (here: logged out in another tab of the same browser)
    other = context.new_page()
    other.goto(f"{server.base}/app")
    other.get_by_role("button", name="Đăng xuất").click()
    other.close()
    page.get_by_role("button", name="Xem lại").click()
    page.get_by_label("Số định danh cá nhân (PID)").fill("001077000999")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{server.base}/app/grant?resumed=1")
    expect(page.get_by_role("status")).to_contain_text("Phiên đăng nhập của bạn đã hết")
    assert page.get_by_label("Số lần", exact=True).input_value() == "3"
    assert page.locator("#procedures input:checked").get_attribute("value") == chosen
    page.get_by_role("button", name="Xem lại").click()
    assert "3 lần" in page.locator(".summary").inner_text()
    page.get_by_role("button", name="Ký ủy quyền này").click()
    # once signed, the draft is gone: a fresh form is fresh
    page.goto(f"{server.base}/app/grant?resumed=1")
    assert page.locator("#procedures input:checked").count() == 0
    context.close()


def test_the_verify_page_says_what_a_file_is_in_plain_vietnamese(
    chromium: Any, server: Server, tmp_path: Path
) -> None:
    from signing.samples import sample_pdf

    page = chromium.new_context(viewport=SIZES["phone"], locale="vi-VN").new_page()
    text = tmp_path / "ghi-chu.txt"
    text.write_text("Đây là một tệp văn bản, không phải PDF.")
    unsigned = tmp_path / "chua-ky.pdf"
    unsigned.write_bytes(sample_pdf())
    for path, heading, said in (
        (text, "Không kiểm tra được tệp này", "ghi-chu.txt"),
        (unsigned, "Văn bản PDF này không có chữ ký số", "chưa được ai ký số"),
    ):
        page.goto(f"{server.base}/verify")
        page.get_by_label(re.compile("tệp PDF đã ký số")).set_input_files(str(path))
        page.get_by_role("button", name="Kiểm tra văn bản").click()
        expect(page.locator("#pdf-verdict")).to_have_text(heading)
        shown = page.locator(".report").inner_text()
        assert said in shown, shown
        api = httpx.post(
            f"{server.base}/v1/signatures/pdf/verify",
            files={"file": (path.name, path.read_bytes(), "application/pdf")},
        ).json()
        for english in (api.get("title"), api.get("detail")):  # the API's words stay there
            assert not english or english not in shown, (english, shown)
        assert "not" not in shown.split() and "signature" not in shown.lower()
    check_page(page, "verify-unsigned")
