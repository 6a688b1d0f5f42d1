"""The agency's pages without a browser, on SQLite and PostgreSQL: only active agency staff at
level 2 get in, each sees only their agency's dossiers, an upload needs the session's CSRF token
and a PDF, and deactivation ends the session."""

from __future__ import annotations

from tests.fixtures.factories import grant, submit
from tests.fixtures.world import World, problem
from tests.web.test_counter_pages import browser_session, csrf

CLERK = "001077654321"


def register(w: World, agency: str = "STP-HN", pid: str = CLERK, code: str = "CB-07") -> None:
    made = w.client.post(
        f"/v1/agencies/{agency}/staff",
        headers=w.admin,
        json={"pid": pid, "name": "Phạm Minh Đức", "staff_code": code},
    )
    assert made.status_code == 201, made.text


def start_work(w: World) -> None:
    """The agency page asks (a GET changes nothing); the clerk presses "start work"."""
    asked = w.client.get("/agency", follow_redirects=False)
    assert asked.status_code == 200 and w.client.get("/v1/me").json()["kind"] == "citizen"
    key = asked.text.split('name="agency" value="', 1)[1].split('"', 1)[0]
    started = w.client.post(
        "/agency/choose", data={"csrf_token": csrf(w), "agency": key}, follow_redirects=False
    )
    assert started.status_code == 303 and started.headers["location"] == "/agency"


def filed(w: World) -> str:
    d = grant(w.client, w.citizen, max_uses=2)
    made = submit(w.client, w.vnpost, d["token"])
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_only_agency_staff_at_level_2_and_only_their_agencys_dossiers(world: World) -> None:
    sid = filed(world)
    register(world)
    register(world, "CA-HN", pid="001077000999", code="CA-01")

    browser_session(world, CLERK, loa=1)
    to_login = world.client.get("/agency", follow_redirects=False)
    assert to_login.headers["location"].startswith("/login?loa=2&next=/agency")

    browser_session(world, "079088011223")  # nobody's staff
    assert world.client.get("/agency").status_code == 403

    browser_session(world, CLERK, loa=1)  # straight to the chooser's POST: still level 1
    refused = world.client.post(
        "/agency/choose", data={"csrf_token": csrf(world), "agency": "STP-HN"}
    )
    assert refused.status_code == 403 and world.client.get("/v1/me").json()["kind"] == "citizen"

    browser_session(world, CLERK)
    start_work(world)
    assert world.client.get("/v1/me").json()["staff"]["staff_code"] == "CB-07"
    inbox = world.client.get("/agency")
    assert inbox.status_code == 200 and sid in inbox.text
    assert sid in world.client.get("/agency", params={"q": sid}).text
    assert sid not in world.client.get("/agency", params={"q": "1.000045"}).text
    assert world.client.get(f"/agency/submissions/{sid}").status_code == 200

    browser_session(world, "001077000999")  # the police's clerk: not theirs
    start_work(world)
    assert sid not in world.client.get("/agency").text
    assert world.client.get(f"/agency/submissions/{sid}").status_code == 404


def test_an_upload_needs_the_csrf_token_and_a_pdf(world: World) -> None:
    sid = filed(world)
    register(world)
    browser_session(world, CLERK)
    start_work(world)
    not_pdf = ("r.pdf", b"hello", "application/pdf")
    forged = world.client.post(f"/agency/submissions/{sid}/result", files={"file": not_pdf})
    assert forged.status_code == 403
    refused = world.client.post(
        f"/agency/submissions/{sid}/result",
        data={"csrf_token": csrf(world)},
        files={"file": not_pdf},
    )
    assert refused.status_code == 422
    # said in Vietnamese, with the way back to the agency's dossiers (not the API's English)
    assert (
        "Tệp không phải PDF" in refused.text
        and "not a PDF" not in refused.text.split("<details")[0]
    )
    assert 'href="/agency"' in refused.text
    missing = world.client.post(
        f"/agency/submissions/{sid}/result", data={"csrf_token": csrf(world)}
    )
    assert missing.status_code == 422 and "Chưa chọn tệp" in missing.text
    seen = world.client.get(f"/v1/submissions/{sid}", headers=world.citizen).json()
    assert seen["status"] == "received"


def test_deactivation_ends_an_agency_clerks_session(world: World) -> None:
    register(world)
    browser_session(world, CLERK)
    start_work(world)
    assert world.client.get("/v1/me").status_code == 200
    done = world.client.post("/v1/agencies/STP-HN/staff/CB-07/deactivate", headers=world.admin)
    assert done.status_code == 200
    problem(world.client.get("/v1/me"), 401, "unauthorized")
