"""Errors as RFC 9457 problem details.

    AppError (status 500, code "internal_error")
     ├── BadRequest         400  bad_request
     ├── Unauthorized       401  unauthorized
     ├── Forbidden          403  forbidden
     ├── NotFound           404  not_found
     ├── Conflict           409  conflict
     ├── PayloadTooLarge    413  payload_too_large
     ├── Unprocessable      422  unprocessable
     ├── TooManyRequests    429  too_many_requests   (with Retry-After)
     └── ServiceUnavailable 503  service_unavailable (with Retry-After)

Each domain subclasses these in its `exceptions.py` with its own stable `code`. Services raise
them; one handler renders them. No stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("uyquyen")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.extra = extra
        self.headers: dict[str, str] = {}


class BadRequest(AppError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any):
        super().__init__(detail, **kw)
        self.headers["WWW-Authenticate"] = 'Bearer realm="uyquyen"'


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class Unprocessable(AppError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class TooManyRequests(AppError):
    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1, **kw: Any):
        super().__init__(detail, **kw)
        self.headers["Retry-After"] = str(max(1, retry_after_s))


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1, **kw: Any):
        super().__init__(detail, **kw)
        self.headers["Retry-After"] = str(max(1, retry_after_s))


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://uyquyen.hanoi.gov.vn/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


def _client_mistake(
    request: Request, exc: RequestValidationError
) -> tuple[int, str, str, str] | None:
    """The usual mistakes of a person with curl, each with a message that says what to do."""
    errors = exc.errors()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    for e in errors:
        if e.get("type") == "json_invalid":
            body = exc.body if isinstance(exc.body, str) else ""
            loc = e.get("loc", ())
            pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
            line = body.count("\n", 0, pos) + 1
            column = pos - (body.rfind("\n", 0, pos) + 1) + 1
            reason = (e.get("ctx") or {}).get("error", "not JSON")
            return (
                422,
                "malformed_json",
                "The body is not valid JSON",
                f"{reason} at line {line}, column {column}",
            )
    locs = [tuple(e.get("loc", ())) for e in errors]
    if ("body", "file") in locs and any(e.get("type") == "missing" for e in errors):
        if ctype != "multipart/form-data":
            return (
                415,
                "unsupported_media_type",
                "Send the PDF as a form upload",
                "send the PDF as multipart/form-data in a field named `file`"
                " (curl -F file=@document.pdf)",
            )
        return (
            422,
            "file_required",
            "No file in the upload",
            "the form has no field named `file`: send the PDF as `file`"
            " (curl -F file=@document.pdf)",
        )
    if ("body",) in locs and ctype != "application/json":
        return (
            415,
            "unsupported_media_type",
            "Send JSON",
            "the body must be JSON: send it with the header Content-Type: application/json",
        )
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        # The pages' layer may answer a browser with a page instead (app.state.error_page).
        page = getattr(request.app.state, "error_page", None)
        answer = page(request, exc) if page is not None else None
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        mistake = _client_mistake(request, exc)
        if mistake is not None:
            return problem(*mistake)
        # Echo where and what, never the submitted value: it may be a secret or a token.
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body") or "request"
        return problem(
            422,
            "validation_error",
            "Invalid request",
            f"{where}: {first['msg']}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        # a browser's unknown page (/app/nothing) is a page too, in the person's language
        page = getattr(request.app.state, "error_page", None)
        as_error = AppError(detail, code=code)
        as_error.status, as_error.title = exc.status_code, title
        answer = page(request, as_error) if page is not None else None
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        return problem(exc.status_code, code, title, detail, dict(exc.headers or {}))

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is unreachable or out of connections: nothing was committed, try again.
        log.error(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            exc.orig.__class__.__name__ if exc.orig else exc,
        )
        return problem(
            503,
            "service_unavailable",
            "Service unavailable",
            "the database is busy or unreachable; nothing was changed, try again",
            {"Retry-After": "1"},
        )

    # Unexpected exceptions: core.http.CatchUnexpected (a handler for Exception here would be
    # Starlette's ServerErrorMiddleware, which re-raises and so drops the connection).
