"""The browser login against a provider that is not ours: a loopback OpenID provider with its
own keys, which authenticates this service with client_secret_basic and checks PKCE."""

from __future__ import annotations

import httpx

from tests.fixtures.issuer import LoopbackIssuer


def test_login_with_a_real_style_provider(make_client, issuer: LoopbackIssuer) -> None:
    client = make_client(vneid_client_secret=issuer.client_secret)
    start = client.get("/login", params={"next": "/v1/me", "loa": 2}, follow_redirects=False)
    assert start.status_code == 302 and start.headers["location"].startswith(
        f"{issuer.url}/authorize?"
    )
    back = httpx.get(start.headers["location"], follow_redirects=False)  # the provider, over HTTP
    callback = back.headers["location"].removeprefix("http://testserver")
    done = client.get(callback, follow_redirects=False)
    assert done.status_code == 302 and done.headers["location"] == "/v1/me", done.text
    me = client.get("/v1/me").json()
    assert (me["kind"], me["pid"], me["loa"]) == ("citizen", "001099012345", 2)


def test_a_wrong_client_secret_is_a_failed_login(make_client, issuer: LoopbackIssuer) -> None:
    client = make_client(vneid_client_secret="not-the-secret")
    start = client.get("/login", follow_redirects=False)
    back = httpx.get(start.headers["location"], follow_redirects=False)
    done = client.get(
        back.headers["location"].removeprefix("http://testserver"), follow_redirects=False
    )
    assert done.status_code == 400 and "VNeID refused the code" in done.text
    assert "uyq_session" not in client.cookies


def test_pages_carry_the_security_headers(client) -> None:
    for path in ("/", "/login?next=/app"):
        resp = client.get(path, follow_redirects=False)
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
    csp = client.get("/").headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
    )
    assert "content-security-policy" not in client.get("/docs").headers  # Swagger UI's own script
