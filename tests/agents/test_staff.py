"""Staff who answer for what they file: registered by the administrator, logged in through their
counter's software (RFC 8693 with the counter's client credentials), named in the receipt as
authenticated, and stopped at once when deactivated. Both backends."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.factories import TOKEN_EXCHANGE, create_counter, grant, in_days
from tests.fixtures.issuer import LoopbackIssuer
from tests.fixtures.world import World, problem, verify_with_jwks

CLERK = "001088123456"


def staff_token(
    w: World, issuer: LoopbackIssuer, counter: dict[str, Any], pid: str = CLERK
) -> httpx.Response:
    return w.client.post(
        "/oauth/token",
        data={**TOKEN_EXCHANGE, "subject_token": issuer.id_token(sub=pid)},
        auth=(counter["client_id"], counter["client_secret"]),
    )


def register(w: World, counter: dict[str, Any], **fields: Any) -> httpx.Response:
    body = {
        "pid": CLERK,
        "name": "Trần Thị Hoa",
        "staff_code": "NV-0042",
        "counters": [counter["id"]],
        **fields,
    }
    return w.client.post("/v1/agents/VNPOST/staff", headers=w.admin, json=body)


def test_a_registered_clerk_gets_a_staff_bound_token_and_signs_for_what_she_files(
    world: World, issuer
) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    assert register(world, counter).status_code == 201
    issued = staff_token(world, issuer, counter)
    assert issued.status_code == 200, issued.text
    clerk = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    me = world.client.get("/v1/me", headers=clerk).json()
    assert (
        me["staff"] == {"staff_code": "NV-0042", "name": "Trần Thị Hoa"}
        and me["counter"] == counter["id"]
    )

    d = grant(world.client, world.citizen, max_uses=3)
    body = {"delegation_token": d["token"], "procedure": "1.001612", "dossier": {"a": 1}}
    filed = world.client.post(
        "/v1/submissions", headers={**clerk, "Idempotency-Key": "s1"}, json=body
    )
    assert filed.status_code == 201, filed.text
    act = verify_with_jwks(world.client, filed.json()["receipt"])["act"]
    assert act == {"sub": "NV-0042", "counter": counter["id"], "authenticated": True}
    mismatch = world.client.post(
        "/v1/submissions",
        headers={**clerk, "Idempotency-Key": "s2"},
        json={**body, "operator": "NV-9999"},
    )
    problem(mismatch, 422, "operator_mismatch")
    same = world.client.post(
        "/v1/submissions",
        headers={**clerk, "Idempotency-Key": "s3"},
        json={**body, "operator": "NV-0042"},
    )
    assert same.status_code == 201


def test_only_active_staff_of_that_counter_get_a_token(world: World, issuer) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    other = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    for resp in (
        staff_token(world, issuer, counter, pid="079088011223"),  # not staff
        staff_token(world, issuer, other),
    ):  # staff, of another counter
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", resp.text
    wrong_secret = world.client.post(
        "/oauth/token",
        data={**TOKEN_EXCHANGE, "subject_token": issuer.id_token(sub=CLERK)},
        auth=(counter["client_id"], "wrong"),
    )
    assert wrong_secret.status_code == 401


def test_deactivation_stops_a_staff_token_at_once(world: World, issuer) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    clerk = {
        "Authorization": f"Bearer {staff_token(world, issuer, counter).json()['access_token']}"
    }
    assert world.client.get("/v1/me", headers=clerk).status_code == 200
    done = world.client.post("/v1/agents/VNPOST/staff/NV-0042/deactivate", headers=world.admin)
    assert done.status_code == 200 and done.json()["active"] is False
    problem(world.client.get("/v1/me", headers=clerk), 401, "unauthorized")
    assert staff_token(world, issuer, counter).status_code == 400  # and no new one


def test_registration_rules(world: World) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    fpt_counter = create_counter(world.client, world.admin, "FPTSHOP")
    problem(register(world, counter, counters=[fpt_counter["id"]]), 422, "unknown_counter")
    problem(register(world, counter, pid="999999999999"), 422, "invalid_pid")
    assert register(world, counter).status_code == 201
    problem(register(world, counter), 409, "staff_exists")
    problem(register(world, counter, pid="001099077777"), 409, "staff_exists")  # same staff code
    problem(
        world.client.post("/v1/agents/VNPOST/staff/NV-7777/deactivate", headers=world.admin),
        404,
        "staff_not_found",
    )
    problem(
        world.client.post(
            "/v1/agents/VNPOST/staff",
            headers=world.vnpost,
            json={"pid": CLERK, "name": "x", "staff_code": "X", "counters": [counter["id"]]},
        ),
        403,
        "admin_only",
    )


def test_agency_staff_act_for_their_agency(world: World, issuer) -> None:
    created = world.client.post("/v1/agencies/STP-HN/clients", headers=world.admin).json()
    assert (
        world.client.post(
            "/v1/agencies/STP-HN/staff",
            headers=world.admin,
            json={"pid": CLERK, "name": "Lê Văn Minh", "staff_code": "TP-01"},
        ).status_code
        == 201
    )
    issued = world.client.post(
        "/oauth/token",
        data={**TOKEN_EXCHANGE, "subject_token": issuer.id_token(sub=CLERK)},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    me = world.client.get(
        "/v1/me", headers={"Authorization": f"Bearer {issued.json()['access_token']}"}
    ).json()
    assert (
        me["kind"] == "agency" and me["agency"] == "STP-HN" and me["staff"]["staff_code"] == "TP-01"
    )


def test_a_level_1_login_never_makes_a_clerk(world: World, issuer) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    weak = world.client.post(
        "/oauth/token",
        data={**TOKEN_EXCHANGE, "subject_token": issuer.id_token(sub=CLERK, acr="vneid:loa1")},
        auth=(counter["client_id"], counter["client_secret"]),
    )
    assert weak.status_code == 400 and weak.json()["error"] == "invalid_grant", weak.text
    assert "level-2" in weak.json()["error_description"]
    assert staff_token(world, issuer, counter).status_code == 200  # the same clerk at level 2


def test_failed_staff_logins_are_on_the_record_and_throttled(world: World, issuer) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    answers = [
        staff_token(world, issuer, counter, pid="079088011223").status_code for _ in range(11)
    ]
    assert answers[:10] == [400] * 10 and answers[10] == 429, answers
    # Throttled before the ID token is looked at: the real clerk waits too (the counter's
    # credential is under attack), and the failures are on the record with the counter named.
    assert staff_token(world, issuer, counter).status_code == 429
    failed = world.client.get("/v1/audit/events?kind=login.failed", headers=world.admin).json()
    staff_failures = [e for e in failed if e["data"]["method"] == "staff_token_exchange"]
    assert len(staff_failures) == 10
    assert staff_failures[0]["data"]["client_id"] == counter["client_id"]
    assert "not active staff" in staff_failures[0]["data"]["reason"]


def test_suspending_an_agent_stops_its_counters_and_clerks_at_once(world: World, issuer) -> None:
    from tests.web.test_counter_pages import browser_session, csrf

    counter = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    grant(world.client, world.citizen, max_uses=2)
    clerk = {
        "Authorization": f"Bearer {staff_token(world, issuer, counter).json()['access_token']}"
    }
    counter_token = world.vnpost
    body = {
        "procedures": ["1.001612"],
        "max_uses": 1,
        "valid_until": in_days(5),
        "purpose": "Nộp hồ sơ",
    }
    # a clerk working at the counter in a browser
    browser_session(world, CLERK)
    world.client.post("/counter/choose", data={"csrf_token": csrf(world), "counter": counter["id"]})
    assert world.client.get("/v1/me").json()["kind"] == "agent"
    for bearer in (clerk, counter_token):
        held = world.client.get("/v1/delegations", headers=bearer)
        assert held.status_code == 200 and held.json(), held.text

    assert world.client.post("/v1/agents/VNPOST/suspend", headers=world.admin).status_code == 200
    for bearer in (clerk, counter_token):
        problem(world.client.get("/v1/delegations", headers=bearer), 401, "unauthorized")
        problem(world.client.get("/v1/me", headers=bearer), 401, "unauthorized")
        made = world.client.post("/v1/authorization-requests", headers=bearer, json=body)
        problem(made, 401, "unauthorized")
    problem(world.client.get("/v1/delegations"), 401, "unauthorized")  # the browser session
    page = world.client.get("/counter", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # FPT Shop's counters go on as before.
    assert world.client.get("/v1/delegations", headers=world.fpt).status_code == 200

    assert world.client.post("/v1/agents/VNPOST/reinstate", headers=world.admin).status_code == 200
    for bearer in (clerk, counter_token):
        assert world.client.get("/v1/delegations", headers=bearer).status_code == 200
        made = world.client.post("/v1/authorization-requests", headers=bearer, json=body)
        assert made.status_code == 201, made.text


def test_a_deactivated_clerk_is_reactivated_or_registered_again(world: World, issuer) -> None:
    counter = create_counter(world.client, world.admin, "VNPOST")
    register(world, counter)
    world.client.post("/v1/agents/VNPOST/staff/NV-0042/deactivate", headers=world.admin)
    assert staff_token(world, issuer, counter).status_code == 400
    back = world.client.post("/v1/agents/VNPOST/staff/NV-0042/reactivate", headers=world.admin)
    assert back.status_code == 200 and back.json()["active"] is True
    assert staff_token(world, issuer, counter).status_code == 200

    world.client.post("/v1/agents/VNPOST/staff/NV-0042/deactivate", headers=world.admin)
    again = register(world, counter, name="Trần Thị Hoa (mới)")
    assert again.status_code == 201 and again.json()["active"] is True, again.text
    assert staff_token(world, issuer, counter).status_code == 200
    # ...but a staff code, once a person's, never becomes someone else's
    world.client.post("/v1/agents/VNPOST/staff/NV-0042/deactivate", headers=world.admin)
    problem(register(world, counter, pid="001099077777"), 409, "staff_exists")
    trail = world.client.get("/v1/audit/events?kind=staff.reactivated", headers=world.admin).json()
    assert len(trail) == 2


def test_the_result_names_the_agency_clerk_who_uploaded_it(world: World, issuer) -> None:
    from tests.fixtures import pdfs
    from tests.fixtures.factories import submit

    created = world.client.post("/v1/agencies/STP-HN/clients", headers=world.admin).json()
    world.client.post(
        "/v1/agencies/STP-HN/staff",
        headers=world.admin,
        json={"pid": CLERK, "name": "Lê Văn Minh", "staff_code": "TP-01"},
    )
    issued = world.client.post(
        "/oauth/token",
        data={**TOKEN_EXCHANGE, "subject_token": issuer.id_token(sub=CLERK)},
        auth=(created["client_id"], created["client_secret"]),
    ).json()
    clerk = {"Authorization": f"Bearer {issued['access_token']}"}
    d = grant(world.client, world.citizen)
    sid = submit(world.client, world.vnpost, d["token"]).json()["id"]
    posted = world.client.post(
        f"/v1/submissions/{sid}/result",
        headers=clerk,
        files={"file": ("r.pdf", pdfs.simple_pdf(), "application/pdf")},
    )
    assert posted.status_code == 201, posted.text
    (event,) = world.client.get("/v1/audit/events?kind=result.signed", headers=world.admin).json()
    assert event["data"]["staff_code"] == "TP-01" and event["actor"].endswith("/TP-01")
