from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from sqlmodel import Session

from core.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Principal,
    check_csrf,
    current_principal,
)
from core.clock import epoch, utcnow
from core.concurrency import run_blocking
from core.jsonshape import has_control_characters
from identity import service
from identity.browser import LoginFailed
from identity.exceptions import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
    TooManyAttempts,
    UnsupportedGrant,
)
from identity.schemas import Me, OAuthErrorResponse, TokenResponse
from identity.throttle import Throttled

router = APIRouter(tags=["identity"])

GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
TOKEN_TYPE_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
MAX_FORM_BYTES = 128 * 1024
MAX_CLIENT_ID = 128
MAX_CLIENT_SECRET = 512
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _read_form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidRequest("request body too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 3.2: parameters must not repeat
            raise InvalidRequest(f"parameter {name!r} given more than once")
        form[name] = value
    return form


def _basic_credentials(request: Request) -> tuple[str, str]:
    value = request.headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise InvalidClient("client authentication with HTTP Basic is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed HTTP Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        raise InvalidClient("malformed HTTP Basic credentials")
    # RFC 6749 2.3.1: both parts are form-encoded before base64.
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    # Refused before any lookup or hashing: our ids are short, our secrets 43 characters, and
    # a hash function given megabytes (or a NUL for the database) is a free denial of service.
    if len(client_id) > MAX_CLIENT_ID or len(secret) > MAX_CLIENT_SECRET:
        raise InvalidClient("client_id or client_secret is too long")
    if has_control_characters(client_id) or has_control_characters(secret):
        raise InvalidClient("client_id and client_secret may not contain control characters")
    return client_id, secret


def _oauth_error(exc: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="uyquyen"'
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status,
        headers=headers,
    )


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses={
        400: {"model": OAuthErrorResponse, "description": "invalid_request, invalid_grant"},
        401: {"model": OAuthErrorResponse, "description": "invalid_client (client credentials)"},
        429: {
            "model": OAuthErrorResponse,
            "description": "too_many_attempts: failed logins throttled (see Retry-After)",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {
                                "type": "string",
                                "enum": [GRANT_TOKEN_EXCHANGE, GRANT_CLIENT_CREDENTIALS],
                            },
                            "subject_token": {
                                "type": "string",
                                "description": "token exchange: the VNeID ID token",
                            },
                            "subject_token_type": {
                                "type": "string",
                                "enum": [TOKEN_TYPE_ID_TOKEN],
                                "description": "token exchange",
                            },
                        },
                    }
                }
            },
        },
        # Client credentials authenticate with HTTP Basic; token exchange needs no client.
        "security": [{"clientBasic": []}, {}],
    },
)
async def token(request: Request) -> JSONResponse:
    """Token endpoint: RFC 8693 token exchange (VNeID ID token) or client credentials."""
    state = request.app.state
    address = request.client.host if request.client else "unknown"
    grant_type = None
    try:
        form = await _read_form(request)
        grant_type = form.get("grant_type")
        if grant_type == GRANT_TOKEN_EXCHANGE:
            subject_token = form.get("subject_token")
            if not subject_token:
                raise InvalidRequest("subject_token is required")
            if form.get("subject_token_type") != TOKEN_TYPE_ID_TOKEN:
                raise InvalidRequest(f"subject_token_type must be {TOKEN_TYPE_ID_TOKEN}")
            token = subject_token
            # With client credentials: a counter (or agency) exchanging its staff member's ID
            # token, for a token bound to that person; without: a citizen's own.
            staff_login = (
                _basic_credentials(request) if request.headers.get("authorization") else None
            )

            def exchange() -> service.IssuedToken:
                with Session(state.engine) as session:
                    if staff_login is not None:
                        issued = service.staff_token_exchange(
                            session,
                            state.id_token_verifier,
                            state.access_tokens,
                            state.login_throttle,
                            state.staff_directory,
                            *staff_login,
                            token,
                            address,
                            epoch(),
                        )
                    else:
                        issued = service.exchange_id_token(
                            session,
                            state.id_token_verifier,
                            state.access_tokens,
                            state.login_throttle,
                            token,
                            address,
                            epoch(),
                        )
                    session.commit()
                    return issued

            issued = await run_blocking(exchange)
            body = TokenResponse(
                access_token=issued.access_token,
                expires_in=issued.expires_in,
                issued_token_type=service.TOKEN_TYPE_ACCESS,
            )
        elif grant_type == GRANT_CLIENT_CREDENTIALS:
            if "client_secret" in form:
                raise InvalidRequest("send client credentials with HTTP Basic, not in the body")
            client_id, client_secret = _basic_credentials(request)

            def grant() -> service.IssuedToken:
                # The grant reads the client and INSERTs one login event: nothing to roll back,
                # so it runs in autocommit on a plain connection (no ORM session).
                with state.autocommit_engine.connect() as conn:
                    issued = service.client_credentials_grant(
                        conn,
                        state.access_tokens,
                        state.login_throttle,
                        client_id,
                        client_secret,
                        address,
                        epoch(),
                    )
                    conn.commit()  # the login event (SQLite; PostgreSQL has committed it)
                    return issued

            issued = await run_blocking(grant)
            body = TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)
        elif not grant_type:
            raise InvalidRequest("grant_type is required")
        else:
            raise UnsupportedGrant(f"grant_type {grant_type[:80]!r} is not supported")
    except OAuthError as exc:
        return _oauth_error(exc)
    except Throttled as exc:
        method = "token_exchange" if grant_type == GRANT_TOKEN_EXCHANGE else "client_credentials"
        state.metrics.throttled_logins.labels(method).inc()
        return _oauth_error(
            TooManyAttempts(
                f"too many failed logins; try again in {exc.retry_after_s} s",
                retry_after_s=exc.retry_after_s,
            )
        )
    return JSONResponse(body.model_dump(exclude_none=True), headers=_NO_STORE)


@router.get("/v1/me", response_model=Me, response_model_exclude_none=True)
def me(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    """Who the caller is, as this service sees it."""
    session_id = (
        None if request.headers.get("authorization") else request.cookies.get(SESSION_COOKIE)
    )
    return Me(
        csrf_token=request.app.state.browser_logins.csrf_token(session_id) if session_id else None,
        kind=principal.kind,
        pid=principal.pid,
        loa=principal.loa,
        name=principal.name,
        client_id=principal.client_id,
        agent=principal.agent_code,
        counter=principal.counter_id,
        agency=principal.agency_code,
        staff=(
            {"staff_code": principal.staff_code, "name": principal.staff_name or ""}
            if principal.staff_code
            else None
        ),
    )


# -- browser login (OpenID Connect code flow) and sessions ---------------------------------------
LOGIN_COOKIE = "uyq_login"
browser = APIRouter(tags=["browser login"])


def _cookie_flags(request: Request) -> dict[str, Any]:
    secure = request.app.state.settings.public_url.startswith("https://")
    return {"httponly": True, "samesite": "lax", "secure": secure}


@browser.get("/login", response_class=RedirectResponse, status_code=302)
def login(
    request: Request,
    next: Annotated[str | None, Query(max_length=512)] = None,  # noqa: A002 - API.md's name
    loa: Annotated[int, Query(ge=1, le=2)] = 1,
) -> Response:
    """Start a VNeID login (authorization code flow with PKCE); `next` is a local path."""
    started = request.app.state.browser_logins.begin(next, loa, utcnow())
    response = RedirectResponse(started.authorization_url, status_code=302)
    response.set_cookie(
        LOGIN_COOKIE, started.login_id, max_age=600, path="/auth", **_cookie_flags(request)
    )
    return response


@browser.get("/auth/callback", response_class=RedirectResponse, status_code=302)
def auth_callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """VNeID's answer: a code for this login, or an error; on success a session starts."""
    if error:  # a page in plain words (web), or problem+json for a program
        raise LoginFailed(f"VNeID answered: {error} {error_description or ''}".strip())
    login_id = request.cookies.get(LOGIN_COOKIE)
    started = request.app.state.browser_logins.complete(login_id, code, state, utcnow())
    response = RedirectResponse(started.next_path, status_code=302)
    response.delete_cookie(LOGIN_COOKIE, path="/auth")
    response.set_cookie(SESSION_COOKIE, started.session_id, path="/", **_cookie_flags(request))
    return response


@browser.post("/logout", response_class=RedirectResponse, status_code=302)
async def logout(request: Request) -> Response:
    """End the session on the server (not only the cookie), then back to the start page."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        form = await request.form()
        token = form.get("csrf_token")
        check_csrf(
            request,
            session_id,
            token if isinstance(token, str) else request.headers.get(CSRF_HEADER),
        )
        await run_in_threadpool(request.app.state.browser_logins.end, session_id, utcnow())
    response = RedirectResponse("/", status_code=302)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
