"""The OpenAPI document as the service really answers: every error as problem+json (RFC 9457)
with the `code`s it can carry, the security schemes, and the shapes FastAPI cannot infer.

FastAPI documents a 422 of its own shape on every route with a body and no other error; the
service answers errors as problem details, from its routes and from middleware (control
characters, body size, uploads per sender, the database). So after FastAPI builds the document,
each operation gets the problem responses that can reach it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from core.errors import AppError

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "additionalProperties": True,
}

# Codes sent by middleware and handlers rather than by a domain's exception classes.
_FRAMEWORK_CODES = {
    400: ["bad_request", "control_characters"],
    401: ["unauthorized"],
    403: ["forbidden"],
    404: ["not_found"],
    405: ["method_not_allowed"],
    409: ["conflict"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    422: ["validation_error", "malformed_json", "file_required"],
    408: ["request_timeout"],
    429: ["too_many_requests"],
    431: ["request_header_fields_too_large"],
    503: ["service_unavailable"],
}
_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed for this caller",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Too large",
    415: "Wrong content type",
    422: "Not acceptable input",
    408: "The request did not arrive in time",
    429: "Too many requests (see Retry-After)",
    431: "Request headers too large or too many",
    503: "Temporarily unavailable (see Retry-After)",
}


def _codes_by_status() -> dict[int, list[str]]:
    codes = {status: list(found) for status, found in _FRAMEWORK_CODES.items()}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.status >= 400 and cls.status != 500:
            codes.setdefault(cls.status, [])
            if cls.code not in codes[cls.status]:
                codes[cls.status].append(cls.code)
    return codes


def _problem_response(status: int, codes: list[str]) -> dict[str, Any]:
    return {
        "description": f"{_TITLES.get(status, 'Error')}: `code` is one of "
        + ", ".join(f"`{c}`" for c in sorted(codes)),
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _page_response(status: int, codes: list[str]) -> dict[str, Any]:
    problem = _problem_response(status, codes)
    return {
        "description": f"{_TITLES.get(status, 'Error')}: a page for the person (text/html); "
        "a malformed query or form gets problem+json",
        "content": {"text/html": {"schema": {"type": "string"}}, **problem["content"]},
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    statuses = [400, 404, 408, 431, 503]  # 408, 431: the HTTP guard, before any route
    if "requestBody" in operation or method in ("post", "put", "patch"):
        statuses += [413, 415, 422, 409]
    if operation.get("parameters"):
        statuses.append(422)
    if operation.get("security"):
        statuses += [401, 403, 429]  # 429: wrong admin tokens are throttled
    if path.endswith(("/pdf", "/verify", "/result")) and method == "post":
        statuses.append(429)  # documents in flight per sender
    return sorted(set(statuses))


def install(
    app: FastAPI,
    page_paths: tuple[str, ...] = (),
    oauth_paths: tuple[str, ...] = ("/oauth/token",),
) -> None:
    """Replace app.openapi with the corrected document (built once). Routes under
    `page_paths` answer errors with a page (text/html) rather than problem+json; `oauth_paths`
    answer RFC 6749 errors in JSON, documented on the route."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        components.setdefault("securitySchemes", {})["clientBasic"] = {
            "type": "http",
            "scheme": "basic",
            "description": "A counter's or agency's client_id and client_secret (RFC 6749 2.3.1)",
        }
        components["securitySchemes"]["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /oauth/token, or the admin token",
        }
        secured = _secured_operations(app)
        codes = _codes_by_status()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if (path, method) in secured:
                    operation["security"] = [{"bearer": []}]
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "Idempotency-Key":
                        # Checked by the route itself (400 idempotency_key_required) so that
                        # the refusal has its own code; required all the same.
                        parameter["required"] = True
                responses = operation.setdefault("responses", {})
                if path in oauth_paths:
                    continue  # errors there are RFC 6749 5.2, documented on the route
                page = path == "/" or path.startswith(page_paths)
                for status in _statuses(path, method, operation):
                    if page and status not in (408, 431):  # the guard speaks problem+json
                        responses[str(status)] = _page_response(status, codes.get(status, []))
                    else:
                        responses[str(status)] = _problem_response(status, codes.get(status, []))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _secured_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Routes that depend (at any depth) on a dependency marked as reading the bearer token:
    documented as such without a security dependency running on every request."""
    from fastapi.routing import APIRoute, iter_route_contexts

    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        pending = list(route.dependant.dependencies)
        while pending:
            dependency = pending.pop()
            if getattr(dependency.call, "reads_bearer_token", False):
                found |= {(context.path, m.lower()) for m in context.methods or ()}
                break
            pending.extend(dependency.dependencies)
    return found
