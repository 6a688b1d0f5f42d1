"""The browser login against a real server and its development VNeID provider, over HTTP as a
browser does it (cookies, redirects, the provider's form), without a browser: the protocol's
rules. The pages themselves are driven in Chromium by tests/web."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import ADMIN_TOKEN, Server, clean_env, free_port, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("browser-login")
    with running_server(tmp, free_port(), env=clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)) as s:
        yield s


def provider_answer(
    browser: httpx.Client,
    login: httpx.Response,
    *,
    pid: str = "001099012345",
    loa: str = "2",
    tamper: dict[str, str] | None = None,
) -> str:
    """Fill in the development provider's page as a person would; returns the callback URL."""
    assert login.status_code == 302, login.text
    page = browser.get(login.headers["location"])
    assert page.status_code == 200 and '<label for="pid">' in page.text
    fields = {
        k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)
    }
    fields.update(pid=pid, name="Nguyễn Văn An", loa=loa, **(tamper or {}))
    action = re.search(r'action="([^"]+)"', page.text)
    assert action
    answer = browser.post(action.group(1), data=fields)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_a_level_2_login_starts_a_session_the_api_honours(server: Server) -> None:
    with httpx.Client(base_url=server.base) as browser:
        login = browser.get("/login", params={"next": "/v1/me?x=1", "loa": 2})
        auth = httpx.URL(login.headers["location"])
        for name in ("state", "nonce", "code_challenge"):
            assert auth.params[name]
        assert (
            auth.params["code_challenge_method"] == "S256"
            and auth.params["acr_values"] == "vneid:loa2"
        )
        assert auth.params["scope"] == "openid" and auth.params["response_type"] == "code"
        done = browser.get(provider_answer(browser, login))
        assert done.status_code == 302 and done.headers["location"] == "/v1/me?x=1"
        cookie = next(
            c for c in done.headers.get_list("set-cookie") if c.startswith("uyq_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # http://: the browser would drop a Secure cookie
        me = browser.get("/v1/me").json()
        assert (me["kind"], me["pid"], me["loa"]) == ("citizen", "001099012345", 2)
        assert me["csrf_token"]


def test_state_changes_with_the_cookie_need_the_csrf_token(server: Server) -> None:
    with httpx.Client(base_url=server.base) as browser:
        browser.get(provider_answer(browser, browser.get("/login", params={"loa": 2})))
        csrf = browser.get("/v1/me").json()["csrf_token"]
        body = {
            "delegate": {"type": "person", "pid": "001199054321"},
            "procedures": ["1.001612"],
            "valid_until": "2026-12-31T00:00:00Z",
            "max_uses": 1,
        }
        forged = browser.post("/v1/delegations", json=body)
        assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
        wrong = browser.post("/v1/delegations", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403 and wrong.json()["code"] == "csrf_failed"
        granted = browser.post("/v1/delegations", json=body, headers={"X-CSRF-Token": csrf})
        assert granted.status_code == 201, granted.text


def test_logout_ends_the_session_on_the_server(server: Server) -> None:
    with httpx.Client(base_url=server.base) as browser:
        browser.get(provider_answer(browser, browser.get("/login")))
        stolen = browser.cookies["uyq_session"]
        csrf = browser.get("/v1/me").json()["csrf_token"]
        assert browser.post("/logout").status_code == 403  # no CSRF token: refused
        out = browser.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 302 and out.headers["location"] == "/"
    replayed = httpx.get(f"{server.base}/v1/me", cookies={"uyq_session": stolen})
    assert replayed.status_code == 401  # the copied cookie is worth nothing now


def test_a_callback_that_is_not_this_browsers_login_is_refused(server: Server) -> None:
    with (
        httpx.Client(base_url=server.base) as victim,
        httpx.Client(base_url=server.base) as attacker,
    ):
        callback = provider_answer(attacker, attacker.get("/login"))
        login_cookie = attacker.cookies["uyq_login"]
        page = victim.get(callback)  # the attacker's code in the victim's browser
        assert page.status_code == 400 and "Đăng nhập không thành công" in page.text
        assert "uyq_session" not in victim.cookies
        assert attacker.get(callback).status_code == 302  # the attacker's own browser: fine...
        again = attacker.get(callback)  # the login cookie is gone after use...
        assert again.status_code == 400 and "not started in this browser" in again.text
        attacker.cookies.set("uyq_login", login_cookie, path="/auth")  # ...and kept, still once
        replay = attacker.get(callback)
        assert replay.status_code == 400 and "already been used" in replay.text


def test_a_wrong_state_or_an_error_from_the_provider_is_a_page_in_plain_words(
    server: Server,
) -> None:
    with httpx.Client(base_url=server.base) as browser:
        callback = httpx.URL(provider_answer(browser, browser.get("/login")))
        wrong = browser.get(str(callback.copy_set_param("state", "forged")))
        assert (
            wrong.status_code == 400
            and "(state)" in wrong.text
            and "uyq_session" not in browser.cookies
        )
        denied = browser.get("/auth/callback", params={"error": "access_denied"})
        assert denied.status_code == 400 and "access_denied" in denied.text


def test_a_level_1_login_cannot_pass_for_level_2(server: Server) -> None:
    with httpx.Client(base_url=server.base) as browser:
        page = browser.get(
            provider_answer(browser, browser.get("/login", params={"loa": 2}), loa="1")
        )
        assert page.status_code == 400 and "level-2" in page.text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_is_a_local_path_only(server: Server, target: str) -> None:
    with httpx.Client(base_url=server.base) as browser:
        done = browser.get(provider_answer(browser, browser.get("/login", params={"next": target})))
        assert done.headers["location"] == "/app"


def insert_session(client, now) -> None:  # type: ignore[no-untyped-def]
    """A session "sid" that logged in at `now` (the login itself is tested above)."""
    import hashlib

    import sqlalchemy as sa

    with client.app.state.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, last_seen_at) "
                "VALUES (:h, '001099012345', NULL, 2, 0, :c, :s)"
            ),
            {"h": hashlib.sha256(b"sid").hexdigest(), "c": now, "s": now},
        )


def test_sessions_end_after_idle_and_absolute_timeouts(client) -> None:
    """The clock rules, on the service object: 15 minutes idle, 8 hours in all."""
    from datetime import UTC, datetime

    logins = client.app.state.browser_logins
    now = datetime.now(UTC)
    insert_session(client, now)
    assert logins.principal("sid", now + timedelta(seconds=899)) is not None
    assert logins.principal("sid", now + timedelta(seconds=899 + 901)) is None  # idle
    for minute in range(1, 8 * 60, 10):  # active all day: kept alive until 8 hours
        assert logins.principal("sid", now + timedelta(minutes=minute)) is not None
    assert logins.principal("sid", now + timedelta(hours=8, minutes=1)) is None


def test_a_session_used_every_20_s_outlives_a_60_s_idle_timeout(make_client) -> None:
    """The idle rule counts from the last use: last_seen was written at most every 60 s and
    checked before the write, so such a session was logged out at 60 s."""
    from datetime import UTC, datetime

    client = make_client(session_idle_s=60)
    logins = client.app.state.browser_logins
    now = datetime.now(UTC)
    insert_session(client, now)
    for seconds in range(20, 301, 20):
        assert logins.principal("sid", now + timedelta(seconds=seconds)) is not None, seconds
    assert logins.principal("sid", now + timedelta(seconds=300 + 61)) is None


def test_anonymous_logins_started_make_the_service_store_nothing(client) -> None:
    """GET /login wrote a row per call that was never deleted (~250 MB/h under a flood): now
    the login in progress travels sealed in the browser's cookie."""
    import sqlalchemy as sa

    def rows() -> dict[str, int]:
        engine = client.app.state.engine
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                n: conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names
            }

    before = rows()
    for i in range(300):
        started = client.get("/login", params={"next": f"/app/{i}"}, follow_redirects=False)
        assert started.status_code == 302
    assert rows() == before
    client.cookies.clear()
    # A sealed cookie changed by one character, or another browser's, is refused.
    forged = started.cookies.get("uyq_login") or ""
    assert forged
    state = dict(
        __import__("urllib.parse").parse.parse_qsl(started.headers["location"].split("?", 1)[1])
    )["state"]
    for cookie in (forged[:-1] + ("A" if forged[-1] != "A" else "B"), ""):
        client.cookies.set("uyq_login", cookie, path="/auth")
        answer = client.get(
            "/auth/callback", params={"code": "x", "state": state}, follow_redirects=False
        )
        assert answer.status_code == 400
        client.cookies.clear()


def test_dead_sessions_are_purged_as_new_ones_start(client) -> None:
    from datetime import UTC, datetime

    import sqlalchemy as sa

    logins = client.app.state.browser_logins
    now = datetime.now(UTC)
    old = now - timedelta(hours=9)
    with client.app.state.engine.begin() as conn:
        for i in range(250):
            conn.execute(
                sa.text(
                    "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, last_seen_at, ended_at) "
                    "VALUES (:h, '001099012345', NULL, 2, 0, :c, :c, :e)"
                ),
                {
                    "h": f"old-{i}",
                    "c": old if i % 2 else now - timedelta(days=2),
                    "e": None if i % 2 else now - timedelta(days=2),
                },
            )
        conn.execute(
            sa.text(
                "INSERT INTO web_sessions (id_hash, pid, name, loa, auth_time, created_at, last_seen_at) "
                "VALUES ('alive', '001099012345', NULL, 2, 0, :c, :c)"
            ),
            {"c": now},
        )
    from sqlmodel import Session

    for _ in range(2):
        with Session(client.app.state.engine) as session:
            logins._purge(session, now)
            session.commit()
    with client.app.state.engine.connect() as conn:
        left = conn.execute(sa.text("SELECT id_hash FROM web_sessions")).scalars().all()
    assert left == ["alive"]
