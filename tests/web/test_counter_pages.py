"""The counter console's rules without a browser, on SQLite and PostgreSQL: only active staff
work at a counter, only at their own counters, at level 2; deactivation ends the staff session
at once; a request made there names the clerk to the citizen; the page's idempotency key files a
dossier once however often the form is sent; the agent's delegations are found by the
citizen's name (with or without diacritics) or PID, and only the agent's own."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from agents.submissions import dossier_number
from tests.agents.test_staff import CLERK, register
from tests.fixtures.factories import citizen_headers, create_counter, grant, in_days
from tests.fixtures.world import World, problem


def browser_session(w: World, pid: str, *, loa: int = 2, name: str = "Trần Thị Hoa") -> str:
    """A logged-in browser, as /auth/callback leaves it (the login itself is tested elsewhere)."""
    now = datetime.now(UTC)
    sid = f"sid-{pid}-{loa}-{time.monotonic_ns()}"
    with w.client.app.state.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, "
                "last_seen_at) VALUES (:h, :pid, :name, :loa, :t, :n, :n)"
            ),
            {
                "h": hashlib.sha256(sid.encode()).hexdigest(),
                "pid": pid,
                "name": name,
                "loa": loa,
                "t": int(time.time()),
                "n": now,
            },
        )
    w.client.cookies.set("uyq_session", sid)
    return sid


def csrf(w: World) -> str:
    return str(w.client.get("/v1/me").json()["csrf_token"])


def at_counter(w: World) -> dict[str, Any]:
    counter = create_counter(w.client, w.admin, "VNPOST")
    assert register(w, counter).status_code == 201
    browser_session(w, CLERK)
    asked = w.client.get("/counter", follow_redirects=False)  # a GET changes nothing
    assert asked.status_code == 200 and "Bắt đầu làm việc" in asked.text
    assert w.client.get("/v1/me").json()["kind"] == "citizen"
    started = w.client.post(
        "/counter/choose",
        data={"csrf_token": csrf(w), "counter": counter["id"]},
        follow_redirects=False,
    )
    assert started.status_code == 303 and started.headers["location"] == "/counter"
    return counter


def test_a_get_never_starts_work_and_a_level_1_session_never_can(world: World) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    browser_session(world, CLERK)
    for _ in range(2):
        world.client.get("/counter")
    assert world.client.get("/v1/me").json()["kind"] == "citizen"
    events = world.client.get("/v1/audit/events?kind=login.staff", headers=world.admin).json()
    assert events == []

    browser_session(world, CLERK, loa=1)
    token = csrf(world)
    refused = world.client.post(
        "/counter/choose", data={"csrf_token": token, "counter": counter["id"]}
    )
    assert refused.status_code == 403 and "mức 2" in refused.text
    me = world.client.get("/v1/me").json()
    assert me["kind"] == "citizen" and me["loa"] == 1


def test_a_clerk_at_her_only_counter_works_there_in_her_name(world: World) -> None:
    counter = at_counter(world)
    me = world.client.get("/v1/me").json()
    assert me["kind"] == "agent" and me["counter"] == counter["id"]
    assert me["staff"] == {"staff_code": "NV-0042", "name": "Trần Thị Hoa"}
    page = world.client.get("/counter")
    assert page.status_code == 200 and "Bưu điện Hà Đông" in page.text


def test_only_staff_at_level_2_and_only_at_their_own_counters(world: World) -> None:
    mine = create_counter(world.client, world.admin, "VNPOST")
    other = create_counter(world.client, world.admin, "VNPOST")
    register(world, mine, counters=[mine["id"], other["id"]])
    foreign = create_counter(world.client, world.admin, "FPTSHOP")

    browser_session(world, CLERK, loa=1)
    to_login = world.client.get("/counter", follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"].startswith(
        "/login?loa=2&next=/counter"
    )

    browser_session(world, CLERK)
    choose = world.client.get("/counter")  # two counters: she is asked which
    assert choose.status_code == 200 and 'name="counter"' in choose.text
    assert choose.text.count('type="radio"') == 2
    token = csrf(world)
    for wrong in (foreign["id"], "ctr-nonexistent", ""):
        refused = world.client.post("/counter/choose", data={"csrf_token": token, "counter": wrong})
        assert refused.status_code == 403
        assert world.client.get("/v1/me").json()["kind"] == "citizen"
    forged = world.client.post("/counter/choose", data={"counter": other["id"]})
    assert forged.status_code == 403 and world.client.get("/v1/me").json()["kind"] == "citizen"
    chosen = world.client.post(
        "/counter/choose",
        data={"csrf_token": token, "counter": other["id"]},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    assert world.client.get("/v1/me").json()["counter"] == other["id"]

    browser_session(world, "079088011223", name="Lê Văn Khách")  # not staff anywhere
    page = world.client.get("/counter")
    assert page.status_code == 403 and "Bạn không phải nhân viên quầy" in page.text
    assert world.client.get("/v1/me").json()["kind"] == "citizen"


def test_deactivation_ends_a_clerks_session_at_once(world: World) -> None:
    at_counter(world)
    assert world.client.get("/v1/me").status_code == 200
    done = world.client.post("/v1/agents/VNPOST/staff/NV-0042/deactivate", headers=world.admin)
    assert done.status_code == 200
    problem(world.client.get("/v1/me"), 401, "unauthorized")
    page = world.client.get("/counter", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_request_made_at_the_console_names_the_clerk(world: World) -> None:
    at_counter(world)
    made = world.client.post(
        "/counter/requests",
        data={
            "csrf_token": csrf(world),
            "procedures": "1.001612",
            "max_uses": "2",
            "valid_until": in_days(10)[:10],
            "purpose": "Nộp hồ sơ lý lịch tư pháp",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    request_id = made.headers["location"].rsplit("/", 1)[1]
    shown = world.client.get(f"/counter/requests/{request_id}")
    assert shown.status_code == 200 and "<svg" in shown.text
    code = re.search(r"/r/([A-Z2-9]{8})", shown.text).group(1)  # type: ignore[union-attr]
    polled = world.client.get(f"/v1/authorization-requests/{request_id}").json()
    assert polled["status"] == "pending" and polled["staff_code"] == "NV-0042"
    asked = world.client.get(
        f"/v1/authorization-requests/by-code/{code}", headers=world.citizen
    ).json()
    assert asked["staff_code"] == "NV-0042" and asked["counter"]["name"] == "Bưu điện Hà Đông"


def test_the_pages_key_files_a_dossier_once_however_often_it_is_sent(world: World) -> None:
    at_counter(world)
    d = grant(world.client, world.citizen, max_uses=3)
    form = world.client.get(f"/counter/delegations/{d['id']}")  # a new draft, at its address
    assert form.status_code == 200 and "?draft=" in str(form.url)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    assert key != re.search(  # type: ignore[union-attr]
        r'name="idempotency_key" value="([^"]+)"',
        world.client.get(f"/counter/delegations/{d['id']}").text,
    ).group(1)  # a new dossier, a new key
    again = world.client.get(str(form.url))  # Back, or a reload: the same draft, the same key
    assert key in again.text
    body = {
        "csrf_token": csrf(world),
        "idempotency_key": key,
        "procedure": "1.001612",
        "field_name": ["Họ tên", "Nơi sinh", ""],
        "field_value": ["Nguyễn Văn An", "Hà Nội", "ignored"],
    }
    answers = [
        world.client.post(f"/counter/delegations/{d['id']}", data=body, follow_redirects=False)
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["location"] for a in answers}) == 1
    uses = world.client.get(f"/v1/delegations/{d['id']}/uses", headers=world.citizen).json()
    assert len(uses) == 1 and uses[0]["act"]["authenticated"] is True
    filed = world.client.get(
        f"/v1/submissions/{uses[0]['submission']}", headers=world.citizen
    ).json()
    assert filed["dossier"] == {"Họ tên": "Nguyễn Văn An", "Nơi sinh": "Hà Nội"}
    receipt = world.client.get(answers[0].headers["location"])
    assert receipt.status_code == 200 and "NV-0042" in receipt.text
    assert "/verify#receipt=" in receipt.text or "<svg" in receipt.text


def test_back_then_submit_files_once_and_shows_the_receipt(world: World) -> None:
    """Back, then "Nộp hồ sơ" again filed the dossier again and spent another use (the form
    came back with a fresh key). The key is the draft's, so the second press shows the receipt."""
    at_counter(world)
    d = grant(world.client, world.citizen, max_uses=3)
    form = world.client.get(f"/counter/delegations/{d['id']}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    body = {
        "csrf_token": csrf(world),
        "idempotency_key": key,
        "procedure": "1.001612",
        "field_name": ["Họ tên"],
        "field_value": ["Nguyễn Văn An"],
    }
    first = world.client.post(f"/counter/delegations/{d['id']}", data=body, follow_redirects=False)
    back = world.client.get(str(form.url))  # the browser fetches the form again
    again = re.search(r'name="idempotency_key" value="([^"]+)"', back.text)
    assert again is not None
    body["idempotency_key"] = again.group(1)
    second = world.client.post(f"/counter/delegations/{d['id']}", data=body, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    uses = world.client.get(f"/v1/delegations/{d['id']}/uses", headers=world.citizen).json()
    assert len(uses) == 1


def test_held_delegations_are_found_by_name_or_pid(world: World, issuer: Any) -> None:
    lan = citizen_headers(world.client, issuer, sub="001199000111", name="Nguyễn Thị Lan")
    dung = citizen_headers(world.client, issuer, sub="001199000222", name="Đặng Văn Dũng")
    for who in (lan, dung):
        grant(world.client, who, max_uses=1)
    grant(  # given to another agent: never shown at VNPost's counters
        world.client,
        citizen_headers(world.client, issuer, sub="001199000333", name="Nguyễn Thị Lan"),
        delegate={"type": "agent", "code": "FPTSHOP"},
        max_uses=1,
    )
    at_counter(world)

    def found(q: str) -> list[str]:
        page = world.client.get("/counter", params={"q": q})
        assert page.status_code == 200
        return re.findall(r"PID (\d{12})", page.text)

    assert found("nguyen thi lan") == ["001199000111"]
    assert found("NGUYỄN THỊ") == ["001199000111"]
    assert found("dang dung") == []  # words in order, as typed
    assert found("dang van dung") == ["001199000222"]
    assert found("001199000222") == ["001199000222"]
    assert found("001199000333") == []
    assert found("%") == [] and found("_") == []
    assert sorted(found("")) == ["001199000111", "001199000222"]
    api = world.client.get("/v1/delegations", params={"q": "lan"}).json()
    assert [d["delegator"] for d in api] == ["001199000111"]


def test_the_verify_page_tells_a_genuine_receipt_from_others(world: World) -> None:
    d = grant(world.client, world.citizen, max_uses=2)
    filed = world.client.post(
        "/v1/submissions",
        headers={**world.vnpost, "Idempotency-Key": "v1"},
        json={
            "delegation_token": d["token"],
            "procedure": "1.001612",
            "operator": "NV-01",
            "dossier": {"a": 1},
        },
    ).json()
    receipt = filed["receipt"]
    world.client.cookies.clear()  # the verify page is public

    def verdict(token: str) -> str:
        page = world.client.post("/verify", data={"token": token})
        assert page.status_code in (200, 422)
        found = re.search(r'<h2 id="verdict"[^>]*>\s*(.*?)</h2>', page.text, re.S)
        return " ".join(found.group(1).split()) if found else ""

    assert verdict(receipt) == "Biên nhận hợp lệ"
    page = world.client.post("/verify", data={"token": receipt}).text
    assert dossier_number(filed["id"]) in page and "NV-01 (do quầy tự khai)" in page
    assert filed["id"] not in page  # the number people read, not the internal id

    head, body, sig = receipt.split(".")
    tampered = f"{head}.{body[:-4]}AAAA.{sig}"
    assert verdict(tampered) == "Biên nhận không hợp lệ"
    claims = world.client.app.state.keyring.verify(receipt, "receipt+jwt")
    forged = world.client.app.state.keyring.sign(  # our key, but no such dossier was filed
        {**claims, "jti": "sub_000000000000000000000000"}, "receipt+jwt"
    )
    assert verdict(forged) == "Biên nhận không hợp lệ"
    elsewhere = world.client.app.state.keyring.sign(
        {**claims, "iss": "https://elsewhere.example"}, "receipt+jwt"
    )
    assert verdict(elsewhere) == "Biên nhận không hợp lệ"
    assert verdict(d["token"]) == "Ủy quyền hợp lệ"
    world.client.post("/v1/delegations/" + d["id"] + "/revoke", headers=world.citizen)
    assert verdict(d["token"]) == "Ủy quyền không hợp lệ"
    said = world.client.post("/verify", data={"token": d["token"]}).text
    assert "Người ủy quyền đã thu hồi: không còn dùng được." in said and "revoked" not in said
    assert verdict("not a token at all") == "Ủy quyền không hợp lệ"
    said = world.client.post("/verify", data={"token": "not a token at all"}).text
    assert "Đây không phải là biên nhận hay ủy quyền do hệ thống này ký" in said
    assert "JWS" not in said
    assert verdict("") == "Không có gì để kiểm tra"


def test_a_receipt_names_the_counter_where_it_was_filed(world: World) -> None:
    """A clerk at two counters files at one, moves to the other: the old receipt still names
    the first."""
    made = [
        world.client.post(
            "/v1/agents/VNPOST/counters",
            headers=world.admin,
            json={"name": name, "ward_code": "00070"},
        ).json()
        for name in ("Bưu cục Hàng Trống", "Bưu cục Cầu Giấy")
    ]
    register(world, made[0], counters=[c["id"] for c in made])
    browser_session(world, CLERK)
    token = csrf(world)
    d = grant(world.client, world.citizen, max_uses=1)

    def work_at(counter: dict[str, Any]) -> None:
        chosen = world.client.post(
            "/counter/choose",
            data={"csrf_token": token, "counter": counter["id"]},
            follow_redirects=False,
        )
        assert chosen.status_code == 303

    work_at(made[0])
    form = world.client.get(f"/counter/delegations/{d['id']}").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    filed = world.client.post(
        f"/counter/delegations/{d['id']}",
        data={"csrf_token": token, "idempotency_key": key, "procedure": "1.001612"},
        follow_redirects=False,
    )
    work_at(made[1])
    receipt = world.client.get(filed.headers["location"]).text
    assert "Bưu cục Hàng Trống" in receipt and "Bưu cục Cầu Giấy" not in receipt


def test_the_consoles_requests_for_one_citizen_are_limited_as_the_apis(world: World) -> None:
    """The flood limit lives in the service: a clerk at the console, with her session, gets the
    same refusal after 6 requests bound to one citizen in the hour, in Vietnamese."""
    at_counter(world)
    answers = []
    for _ in range(7):
        made = world.client.post(
            "/counter/requests",
            data={
                "csrf_token": csrf(world),
                "procedures": "1.001612",
                "max_uses": "1",
                "valid_until": in_days(10)[:10],
                "purpose": "Nộp hồ sơ",
                "delegator_pid": "001099012345",
            },
            follow_redirects=False,
        )
        answers.append(made)
        if made.status_code == 303:
            request_id = made.headers["location"].rsplit("/", 1)[1]
            world.client.post(
                f"/v1/authorization-requests/{request_id}/cancel",
                headers={"X-CSRF-Token": csrf(world)},
            )
    assert [a.status_code for a in answers] == [303] * 6 + [429]
    assert "Đã tạo quá nhiều yêu cầu gần đây" in answers[6].text
