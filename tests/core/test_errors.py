"""Every error is problem+json with a stable code; nothing internal leaks."""

from __future__ import annotations


def test_unknown_route(client) -> None:
    resp = client.get("/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "not_found"


def test_wrong_method(client) -> None:
    resp = client.delete("/v1/procedures")
    assert resp.status_code == 405 and resp.json()["code"] == "method_not_allowed"


def test_validation_error_does_not_echo_the_input(client, admin) -> None:
    secret_looking = "uyq_cs_this-should-not-come-back"
    resp = client.post(
        "/v1/agents", headers=admin, json={"code": secret_looking, "name": "x", "kind": "other"}
    )
    assert resp.status_code == 422 and resp.json()["code"] == "validation_error"
    assert secret_looking not in resp.text
    assert "code" in resp.json()["detail"]


def test_unexpected_failure_is_a_bare_500(client) -> None:
    def explode() -> None:
        raise RuntimeError("database password is hunter2")

    client.app.add_api_route("/boom", explode)
    resp = client.get("/boom")
    assert resp.status_code == 500
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "internal_error"
    assert "hunter2" not in resp.text and "Traceback" not in resp.text


def test_openapi_is_served(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/oauth/token", "/v1/me", "/v1/agents", "/.well-known/jwks.json"} <= set(paths)


def test_oversized_body_is_refused_before_it_is_read(client, admin) -> None:
    big = b'{"code": "' + b"A" * (3 * 1024 * 1024) + b'"}'
    resp = client.post(
        "/v1/agents", headers={**admin, "Content-Type": "application/json"}, content=big
    )
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"


def test_oversized_streamed_body_is_refused(client, admin) -> None:
    def chunks():  # no Content-Length: the server counts
        for _ in range(40):
            yield b"A" * 100_000

    resp = client.post(
        "/v1/agents", headers={**admin, "Content-Type": "application/json"}, content=chunks()
    )
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"


def test_an_unexpected_error_is_answered_and_not_raised_to_the_server() -> None:
    """uvicorn drops a keep-alive connection when the app raises; CatchUnexpected answers the
    500 itself and returns normally, so the connection stays usable."""
    import asyncio

    from core.http import CatchUnexpected

    async def broken(scope, receive, send):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    sent: list[dict] = []

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    asyncio.run(CatchUnexpected(broken)(scope, receive, send))  # does not raise
    assert sent[0]["status"] == 500
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert b'"code": "internal_error"' in sent[1]["body"]
    assert b"a bug" not in sent[1]["body"]  # no internals to the client


def test_json_without_its_content_type_says_which_header_to_send(client, admin) -> None:
    body = '{"code": "VNPOST", "name": "Vietnam Post", "kind": "post_office"}'
    for headers in (
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        resp = client.post("/v1/agents", content=body, headers={**admin, **headers})
        assert resp.status_code == 415 and resp.json()["code"] == "unsupported_media_type", (
            resp.text
        )
        assert "Content-Type: application/json" in resp.json()["detail"]


def test_a_pdf_sent_raw_or_in_another_field_says_how_to_send_it(client) -> None:
    raw = client.post(
        "/v1/signatures/pdf/verify",
        content=b"%PDF-1.7\n",
        headers={"Content-Type": "application/pdf"},
    )
    assert (
        raw.status_code == 415
        and "multipart/form-data in a field named `file`" in raw.json()["detail"]
    )
    other = client.post("/v1/signatures/pdf/verify", files={"document": ("a.pdf", b"%PDF-1.7\n")})
    assert other.status_code == 422 and other.json()["code"] == "file_required"
    assert "curl -F file=@" in other.json()["detail"]
