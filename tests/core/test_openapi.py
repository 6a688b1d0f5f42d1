"""/docs, /redoc and /openapi.json as a newcomer uses them: offline, with an Authorize button,
and with the errors the service really sends."""

from __future__ import annotations

import re


def test_docs_and_redoc_load_nothing_from_another_origin(client) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", html)
        assert urls, page
        for found in (u for pair in urls for u in pair if u):
            assert found.startswith("/"), f"{page} loads {found}"
            assert client.get(found).status_code == 200, found


def test_openapi_documents_security_and_problem_errors(client) -> None:
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["clientBasic"]["scheme"] == "basic"
    submit = doc["paths"]["/v1/submissions"]["post"]
    assert submit["security"] == [{"bearer": []}]
    key = next(p for p in submit["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True
    for status in ("400", "401", "403", "409", "422", "503"):
        content = submit["responses"][status]["content"]
        assert list(content) == ["application/problem+json"], status
    assert "`invalid_delegation`" in submit["responses"]["422"]["description"]
    assert "`not_delegate`" in submit["responses"]["403"]["description"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "security" not in doc["paths"]["/v1/procedures"]["get"]


def test_the_token_endpoint_documents_its_form_and_basic_auth(client) -> None:
    token = client.get("/openapi.json").json()["paths"]["/oauth/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"grant_type", "subject_token", "subject_token_type"} <= set(form["properties"])
    assert {"clientBasic": []} in token["security"]
    assert {"400", "401", "429"} <= set(token["responses"])


def test_content_types_are_the_ones_served(client) -> None:
    doc = client.get("/openapi.json").json()
    jwks = doc["paths"]["/.well-known/jwks.json"]["get"]["responses"]["200"]["content"]
    assert list(jwks) == ["application/jwk-set+json"]
    assert (
        client.get("/.well-known/jwks.json").headers["content-type"] == "application/jwk-set+json"
    )


def test_error_content_types_are_the_ones_served(client) -> None:
    """The document said problem+json where the login callback and the dev provider's pages
    answer a page, and the dev token endpoint OAuth JSON; the HTTP guard's 431 was missing."""
    doc = client.get("/openapi.json").json()["paths"]
    answered = {
        ("/auth/callback", "get"): client.get("/auth/callback", params={"error": "access_denied"}),
        ("/dev/vneid/token", "post"): client.post("/dev/vneid/token", data={"grant_type": "x"}),
        ("/v1/delegations/{delegation_id}", "get"): client.get("/v1/delegations/dlg_x"),
    }
    for (path, method), resp in answered.items():
        documented = doc[path][method]["responses"][str(resp.status_code)]["content"]
        served = resp.headers["content-type"].split(";")[0]
        assert served in documented, (path, resp.status_code, served, list(documented))
    for path, operations in doc.items():
        for method, operation in operations.items():
            if path not in ("/oauth/token", "/dev/vneid/token"):
                assert "431" in operation["responses"], (path, method)
