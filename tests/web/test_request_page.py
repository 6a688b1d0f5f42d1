"""/r/{code} without a browser: approving needs a fresh level-2 login (a phone left logged in
cannot approve for someone else at the counter)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from tests.fixtures.factories import in_days
from tests.fixtures.world import World


def session_cookie(world: World, *, loa: int, authenticated_seconds_ago: int) -> str:
    now = datetime.now(UTC)
    sid = f"sid-{loa}-{authenticated_seconds_ago}"
    with world.client.app.state.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, last_seen_at) "
                "VALUES (:h, '001099012345', 'An', :loa, :t, :n, :n)"
            ),
            {
                "h": hashlib.sha256(sid.encode()).hexdigest(),
                "loa": loa,
                "t": int(time.time()) - authenticated_seconds_ago,
                "n": now,
            },
        )
    return sid


def test_a_stale_login_must_log_in_again_before_approving(world: World) -> None:
    asked = world.client.post(
        "/v1/authorization-requests",
        headers=world.vnpost,
        json={
            "procedures": ["1.001612"],
            "max_uses": 1,
            "valid_until": in_days(10),
            "purpose": "test",
        },
    ).json()
    c = world.client
    c.cookies.set("uyq_session", session_cookie(world, loa=2, authenticated_seconds_ago=3600))
    csrf = c.get("/v1/me").json()["csrf_token"]
    page = c.post(f"/r/{asked['code']}/view", data={"csrf_token": csrf})
    assert page.status_code == 200 and "Đồng ý và ký" not in page.text
    assert f"/login?loa=2&amp;next=/r/{asked['code']}" in page.text
    tried = c.post(f"/r/{asked['code']}/approve", data={"csrf_token": csrf}, follow_redirects=False)
    assert tried.status_code == 303 and tried.headers["location"].startswith("/login?loa=2")
    assert (
        c.get(f"/v1/authorization-requests/{asked['id']}", headers=world.vnpost).json()["status"]
        == "pending"
    )

    c.cookies.set("uyq_session", session_cookie(world, loa=2, authenticated_seconds_ago=30))
    csrf = c.get("/v1/me").json()["csrf_token"]
    assert "Đồng ý và ký" in c.post(f"/r/{asked['code']}/view", data={"csrf_token": csrf}).text
    done = c.post(f"/r/{asked['code']}/approve", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and "/app/authorizations/" in done.headers["location"]
    assert (
        c.get(f"/v1/authorization-requests/{asked['id']}", headers=world.vnpost).json()["status"]
        == "approved"
    )


def test_opening_a_code_spends_nothing_until_the_citizen_presses(world: World) -> None:
    """GET /r/{code} (what a link or an image on any site can make a browser do) changed
    state: it spent the citizen's lookups. Now only the POST with the CSRF token looks up."""
    c = world.client
    c.cookies.set("uyq_session", session_cookie(world, loa=2, authenticated_seconds_ago=30))
    for _ in range(15):
        page = c.get("/r/ABCDEFGH")
        assert page.status_code == 200 and "Xem nội dung yêu cầu" in page.text
    with world.client.app.state.engine.connect() as conn:
        counted = conn.execute(sa.text("SELECT count(*) FROM login_failures")).scalar_one()
    assert counted == 0
    forged = c.post("/r/ABCDEFGH/view", data={})
    assert forged.status_code == 403
    csrf = c.get("/v1/me").json()["csrf_token"]
    missing = c.post("/r/ABCDEFGH/view", data={"csrf_token": csrf})
    assert missing.status_code == 404
    # in Vietnamese, with the way back to the citizen's own page; the API's English words
    # only folded away with the code, for whoever helps
    assert "Không tìm thấy yêu cầu" in missing.text
    visible = missing.text.split("<details", 1)[0]
    assert (
        "No such authorization request" not in visible
        and "Mã lỗi: request_not_found" in missing.text
    )
    assert 'href="/app"' in missing.text
    # the code as the counter shows it (a space, a dash, lower case), even in the address
    for typed in ("/r/abcd efgh", "/r/ABCD-EFGH", "/r?code=abcd+efgh"):
        page = c.get(typed)
        assert page.status_code == 200, typed
        assert 'action="/r/ABCDEFGH/view"' in page.text, typed
    # whatever is typed, the code box leads only to a code's own page on this site
    for typed in ("//evil.example/x", "../../app/grant", "a/b?c#d"):
        sent = c.get("/r", params={"code": typed}, follow_redirects=False)
        assert sent.status_code == 303, typed
        assert sent.headers["location"].startswith("/r/"), typed
        assert sent.headers["location"][3:].isalnum(), sent.headers["location"]
    long = c.get("/r", params={"code": "x" * 20_000}, follow_redirects=False)
    assert long.status_code == 303 and len(long.headers["location"]) == len("/r/") + 16


def test_the_pages_lookups_count_against_the_address_too(make_client) -> None:  # type: ignore[no-untyped-def]
    """Per-address lookups hold on the page as on the API: several citizens' sessions from one
    address share its budget."""
    client = make_client(request_lookups_per_address_per_minute=5)
    codes = []
    for n in range(3):
        sid = f"sid-addr-{n}"
        with client.app.state.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, last_seen_at) "
                    "VALUES (:h, :pid, 'An', 2, :t, :n, :n)"
                ),
                {
                    "h": hashlib.sha256(sid.encode()).hexdigest(),
                    "pid": f"00109900{n:04d}",
                    "t": int(time.time()),
                    "n": datetime.now(UTC),
                },
            )
        client.cookies.set("uyq_session", sid)
        token = client.get("/v1/me").json()["csrf_token"]
        for _ in range(2):
            codes.append(client.post("/r/ABCDEFGH/view", data={"csrf_token": token}).status_code)
    assert codes == [404] * 5 + [429]
