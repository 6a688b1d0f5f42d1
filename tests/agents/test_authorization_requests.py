"""Counter-initiated authorization requests (API.md, "Counter-initiated authorization
requests"): a counter asks, the citizen reads by code and approves (a delegation granted in the
same transaction) or declines; every rule, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from typing import Any

import sqlalchemy as sa

from tests.fixtures.factories import citizen_headers, in_days, submit
from tests.fixtures.world import DELEGATOR, RELATIVE, STRANGER, World, problem, verify_with_jwks

BASE = {"procedures": ["1.001612"], "max_uses": 1, "purpose": "Xin cấp Phiếu lý lịch tư pháp số 1"}


def ask(w: World, counter: dict[str, str] | None = None, **fields: Any) -> Any:
    resp = w.client.post(
        "/v1/authorization-requests",
        headers=counter or w.vnpost,
        json={**BASE, "valid_until": in_days(30), **fields},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_a_counter_asks_and_the_citizen_reads_who_asks_and_what(world: World) -> None:
    asked = ask(world)
    assert asked["id"].startswith("arq_") and asked["status"] == "pending"
    assert re.fullmatch(r"[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}", asked["code"])  # no 0/O, 1/I
    assert asked["approve_url"] == f"http://testserver/r/{asked['code']}"
    read = world.client.get(
        f"/v1/authorization-requests/by-code/{asked['code']}", headers=world.citizen
    )
    assert read.status_code == 200, read.text
    shown = read.json()
    assert shown["agent"]["code"] == "VNPOST" and shown["counter"]["ward_code"] == "09552"
    assert (
        shown["procedures"][0]["code"] == "1.001612"
        and "lý lịch tư pháp" in shown["procedures"][0]["name"]
    )
    assert shown["purpose"] == BASE["purpose"] and shown["status"] == "pending"
    assert (
        world.client.get(
            f"/v1/authorization-requests/{asked['id']}/qr.svg", headers=world.vnpost
        ).headers["content-type"]
        == "image/svg+xml"
    )


def test_approval_grants_the_delegation_the_counter_can_use(world: World) -> None:
    asked = ask(world, max_uses=2)
    approved = world.client.post(
        f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=world.citizen
    )
    assert approved.status_code == 201, approved.text
    d = approved.json()
    assert (
        d["delegate"] == {"type": "agent", "code": "VNPOST"}
        and d["max_uses"] == 2
        and d["status"] == "active"
    )
    assert d["delegator"] == DELEGATOR and d["note"] == BASE["purpose"]
    seen = world.client.get(
        f"/v1/authorization-requests/{asked['id']}", headers=world.vnpost
    ).json()
    assert seen["status"] == "approved" and seen["delegation_id"] == d["id"]
    assert verify_with_jwks(world.client, seen["delegation_token"])["jti"] == d["id"]
    assert submit(world.client, world.vnpost, seen["delegation_token"]).status_code == 201
    kinds = [e["kind"] for e in world.client.get("/v1/audit/events", headers=world.citizen).json()]
    assert "authorization_request.approved" in kinds and "delegation.granted" in kinds


def test_a_request_is_decided_once(world: World) -> None:
    c = world.client
    approved = ask(world)
    assert (
        c.post(
            f"/v1/authorization-requests/by-code/{approved['code']}/approve", headers=world.citizen
        ).status_code
        == 201
    )
    problem(
        c.post(
            f"/v1/authorization-requests/by-code/{approved['code']}/approve", headers=world.citizen
        ),
        409,
        "approved",
    )
    problem(
        c.post(
            f"/v1/authorization-requests/by-code/{approved['code']}/decline", headers=world.citizen
        ),
        409,
        "approved",
    )
    declined = ask(world)
    assert (
        c.post(
            f"/v1/authorization-requests/by-code/{declined['code']}/decline", headers=world.citizen
        ).status_code
        == 200
    )
    assert (
        c.get(f"/v1/authorization-requests/{declined['id']}", headers=world.vnpost).json()["status"]
        == "declined"
    )
    problem(
        c.post(
            f"/v1/authorization-requests/by-code/{declined['code']}/approve", headers=world.citizen
        ),
        409,
        "declined",
    )
    cancelled = ask(world)
    assert (
        c.post(f"/v1/authorization-requests/{cancelled['id']}/cancel", headers=world.vnpost).json()[
            "status"
        ]
        == "cancelled"
    )
    problem(
        c.post(
            f"/v1/authorization-requests/by-code/{cancelled['code']}/approve", headers=world.citizen
        ),
        409,
        "cancelled",
    )
    problem(
        c.post(f"/v1/authorization-requests/{cancelled['id']}/cancel", headers=world.vnpost),
        409,
        "cancelled",
    )


def test_an_expired_request_cannot_be_approved_and_its_expiry_is_recorded(world: World) -> None:
    asked = ask(world)
    with world.client.app.state.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE authorization_requests SET expires_at = created_at WHERE id = :i"),
            {"i": asked["id"]},
        )
    problem(
        world.client.post(
            f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=world.citizen
        ),
        409,
        "expired",
    )
    assert (
        world.client.get(f"/v1/authorization-requests/{asked['id']}", headers=world.vnpost).json()[
            "status"
        ]
        == "expired"
    )
    events = world.client.get(
        "/v1/audit/events", headers=world.admin, params={"kind": "authorization_request.expired"}
    ).json()
    assert [e["ref"] for e in events] == [asked["id"]]
    assert world.client.get("/v1/delegations", headers=world.citizen).json() == []


def test_a_request_bound_to_one_citizen_is_nobody_elses(world: World) -> None:
    asked = ask(world, delegator_pid=RELATIVE)
    problem(
        world.client.get(
            f"/v1/authorization-requests/by-code/{asked['code']}", headers=world.citizen
        ),
        404,
        "request_not_found",
    )
    problem(
        world.client.post(
            f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=world.stranger
        ),
        404,
        "request_not_found",
    )
    assert (
        world.client.post(
            f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=world.relative
        ).status_code
        == 201
    )


def test_level_1_cannot_approve(world: World, issuer) -> None:
    asked = ask(world)
    level1 = citizen_headers(world.client, issuer, sub=STRANGER, acr="vneid:loa1")
    problem(
        world.client.post(
            f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=level1
        ),
        403,
        "insufficient_assurance",
    )
    assert (
        world.client.get(f"/v1/authorization-requests/{asked['id']}", headers=world.vnpost).json()[
            "status"
        ]
        == "pending"
    )


def test_approving_needs_a_login_of_the_last_5_minutes_on_every_path(world: World, issuer) -> None:
    import time

    from tests.web.test_counter_pages import browser_session, csrf

    asked = ask(world)
    url = f"/v1/authorization-requests/by-code/{asked['code']}/approve"
    ten_minutes_ago = int(time.time()) - 600
    # A bearer token from an ID token whose login is 10 minutes old, and one that never says.
    for auth_time in (ten_minutes_ago, ...):
        stale = citizen_headers(world.client, issuer, sub=DELEGATOR, auth_time=auth_time)
        problem(world.client.post(url, headers=stale), 401, "login_not_fresh")
    # The browser session of a login 10 minutes old, with its cookie and CSRF header.
    sid = browser_session(world, DELEGATOR, name="Nguyễn Văn An")
    with world.client.app.state.engine.begin() as conn:
        conn.execute(sa.text("UPDATE web_sessions SET auth_time = :t"), {"t": ten_minutes_ago})
    assert sid
    problem(world.client.post(url, headers={"X-CSRF-Token": csrf(world)}), 401, "login_not_fresh")
    world.client.cookies.clear()
    status = world.client.get(f"/v1/authorization-requests/{asked['id']}", headers=world.vnpost)
    assert status.json()["status"] == "pending"
    fresh = citizen_headers(world.client, issuer, sub=DELEGATOR)
    assert world.client.post(url, headers=fresh).status_code == 201


def test_the_21st_open_request_of_a_counter_is_refused(world: World) -> None:
    for _ in range(20):
        ask(world)
    resp = world.client.post(
        "/v1/authorization-requests",
        headers=world.vnpost,
        json={**BASE, "valid_until": in_days(30)},
    )
    problem(resp, 429, "too_many_open_requests")
    assert int(resp.headers["retry-after"]) >= 1
    ask(world, counter=world.fpt)  # another counter is not affected


def test_another_agent_cannot_read_or_cancel_a_request(world: World) -> None:
    asked = ask(world)
    for call in (
        world.client.get(f"/v1/authorization-requests/{asked['id']}", headers=world.fpt),
        world.client.post(f"/v1/authorization-requests/{asked['id']}/cancel", headers=world.fpt),
        world.client.get(f"/v1/authorization-requests/{asked['id']}/qr.svg", headers=world.fpt),
    ):
        problem(call, 404, "request_not_found")
    problem(
        world.client.get(f"/v1/authorization-requests/{asked['id']}", headers=world.citizen),
        403,
        "wrong_caller_kind",
    )


def test_the_same_terms_as_a_grant_are_checked(world: World) -> None:
    c = world.client
    cases: list[tuple[dict[str, Any], str]] = [
        ({"procedures": ["9.999999"]}, "unknown_procedure"),
        ({"max_uses": 0}, "invalid_max_uses"),
        ({"valid_until": in_days(400)}, "window_too_long"),
        ({"delegator_pid": "123"}, "invalid_delegator"),
    ]
    for fields, code in cases:
        problem(
            c.post(
                "/v1/authorization-requests",
                headers=world.vnpost,
                json={**BASE, "valid_until": in_days(30), **fields},
            ),
            422,
            code,
        )
    problem(
        c.post(
            "/v1/authorization-requests",
            headers=world.vnpost,
            json={**BASE, "valid_until": in_days(30), "purpose": "x" * 501},
        ),
        422,
        "validation_error",
    )


def test_code_lookups_are_throttled_per_citizen(world: World) -> None:
    for _ in range(10):
        problem(
            world.client.get("/v1/authorization-requests/by-code/ABCDEFGH", headers=world.stranger),
            404,
            "request_not_found",
        )
    problem(
        world.client.get("/v1/authorization-requests/by-code/ABCDEFGH", headers=world.stranger),
        429,
        "too_many_lookups",
    )
    asked = ask(world)  # another citizen is not affected
    assert (
        world.client.get(
            f"/v1/authorization-requests/by-code/{asked['code']}", headers=world.citizen
        ).status_code
        == 200
    )


def test_code_lookups_are_throttled_per_address_too(world: World, issuer) -> None:
    """12 accounts x 10 wrong codes from one address got no 429: the address has a budget
    of its own (60 a minute, loose for a shared NAT)."""
    answers = []
    for n in range(7):
        account = citizen_headers(world.client, issuer, sub=f"0010990{n:05d}")
        for _ in range(9):
            answers.append(
                world.client.get("/v1/authorization-requests/by-code/ABCDEFGH", headers=account)
            )
    codes = [r.json()["code"] for r in answers]
    assert codes[:60] == ["request_not_found"] * 60 and set(codes[60:]) == {"too_many_lookups"}


def test_lookups_slide_across_a_window_edge(world: World) -> None:
    """10 lookups at the end of a minute and 10 at the start of the next were 20 in two
    seconds: the previous window still counts."""
    from datetime import UTC, datetime

    from sqlmodel import Session

    from agents import requests as requests_service
    from core.auth import Principal
    from identity.throttle import Throttled  # noqa: F401  (the service turns it into 429)

    state = world.client.app.state
    me = Principal("citizen", STRANGER, loa=2)
    edge = (int(datetime.now(UTC).timestamp()) // 60 + 1) * 60
    outcomes = []
    for at in [edge - 1.5] * 10 + [edge + 0.4] * 3:
        with Session(state.engine) as session:
            try:
                requests_service.lookup(
                    session,
                    state.requests,
                    me,
                    "ABCDEFGH",
                    datetime.fromtimestamp(at, UTC),
                    address="203.0.113.7",
                )
            except Exception as exc:  # noqa: BLE001 - the problem's code is what matters
                outcomes.append(getattr(exc, "code", repr(exc)))
    assert outcomes == ["request_not_found"] * 10 + ["too_many_lookups"] * 3


def test_a_counter_cannot_flood_a_citizens_activity(world: World) -> None:
    """150 create+cancel cycles against one PID added 340 events to the victim's activity:
    requests bound to one citizen are limited per hour (6), and a counter's own pace too."""
    made = []
    for _ in range(20):
        r = world.client.post(
            "/v1/authorization-requests",
            headers=world.vnpost,
            json={**BASE, "valid_until": in_days(30), "delegator_pid": DELEGATOR},
        )
        made.append(r)
        if r.status_code == 201:
            world.client.post(
                f"/v1/authorization-requests/{r.json()['id']}/cancel", headers=world.vnpost
            )
    statuses = [r.status_code for r in made]
    assert statuses[:6] == [201] * 6 and set(statuses[6:]) == {429}, statuses
    assert made[6].json()["code"] == "too_many_requests_made"
    assert int(made[6].headers["retry-after"]) > 0
    mine = world.client.get("/v1/audit/events", headers=world.citizen).json()
    assert len([e for e in mine if e["kind"].startswith("authorization_request.")]) == 12
    # Another citizen, from the same counter, is still served.
    other = world.client.post(
        "/v1/authorization-requests",
        headers=world.vnpost,
        json={**BASE, "valid_until": in_days(30), "delegator_pid": RELATIVE},
    )
    assert other.status_code == 201


def test_a_counters_pace_is_limited(make_client, admin) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.factories import counter_headers, create_agent

    client = make_client(requests_per_counter_per_hour=5)
    create_agent(client, admin, "VNPOST", "post_office")
    counter = counter_headers(client, admin, "VNPOST")
    answers = []
    for _ in range(7):
        r = client.post(
            "/v1/authorization-requests",
            headers=counter,
            json={**BASE, "valid_until": in_days(30)},
        )
        answers.append(r.status_code)
        if r.status_code == 201:
            client.post(f"/v1/authorization-requests/{r.json()['id']}/cancel", headers=counter)
    assert answers == [201] * 5 + [429] * 2


def test_concurrent_approvals_grant_exactly_one_delegation(world: World, issuer) -> None:
    asked = ask(world)
    sessions = [citizen_headers(world.client, issuer, sub=DELEGATOR) for _ in range(4)]
    answers: list[int] = []

    def approve(headers: dict[str, str]) -> None:
        answers.append(
            world.client.post(
                f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=headers
            ).status_code
        )

    threads = [threading.Thread(target=approve, args=(h,)) for h in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 409, 409, 409], answers
    assert len(world.client.get("/v1/delegations", headers=world.citizen).json()) == 1


def test_the_citizens_own_actions_stay_findable_among_a_counters_requests(world: World) -> None:
    from tests.web.test_counter_pages import browser_session

    asked = ask(world)
    approved = world.client.post(
        f"/v1/authorization-requests/by-code/{asked['code']}/approve", headers=world.citizen
    )
    assert approved.status_code == 201
    for _ in range(6):  # what a counter may do within the hour: 12 events about the citizen
        r = ask(world, delegator_pid=DELEGATOR)
        world.client.post(f"/v1/authorization-requests/{r['id']}/cancel", headers=world.vnpost)
    browser_session(world, DELEGATOR, name="Nguyễn Văn An")
    everything = world.client.get("/app/activity").text
    assert everything.count('class="event"') >= 13
    mine = world.client.get("/app/activity", params={"mine": 1}).text
    # her login, her approval and the grant it made: nothing the counter did
    assert mine.count('class="event"') == 3 and "Bạn đã đồng ý yêu cầu" in mine
    assert "đã rút lại yêu cầu ủy quyền" in everything and "đã rút lại yêu cầu" not in mine
