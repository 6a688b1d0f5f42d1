"""FastAPI dependencies that say who is calling, from the bearer token alone."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from core.clock import epoch
from identity.exceptions import (
    AdminOnly,
    NotAuthenticated,
    TooManyAdminAttempts,
    WrongCallerKind,
)
from identity.principals import Principal
from identity.service import login_failed
from identity.throttle import Throttled

MAX_BEARER_LENGTH = 16_384


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_BEARER_LENGTH:
        raise NotAuthenticated("Authorization must be 'Bearer <token>'")
    return token


def _is_admin_token(request: Request, token: str) -> bool:
    expected: bytes = request.app.state.admin_token_sha256
    return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), expected)


def principal_of(request: Request) -> Principal:
    """Any authenticated caller: citizen, agent counter, agency or administrator."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("this call needs 'Authorization: Bearer <token>'")
    if _is_admin_token(request, token):
        return Principal("admin", "admin")
    return request.app.state.access_tokens.principal(token, epoch())


# The dependencies are `async def` on purpose: a signature check of ~0.1 ms runs on the event
# loop for less than FastAPI's hop of a plain `def` dependency to the thread pool (~0.2 ms).
async def current_principal(request: Request) -> Principal:
    return principal_of(request)


async def require_admin(request: Request) -> Principal:
    """The admin token, with failed attempts throttled per address and put on the record."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("this call needs 'Authorization: Bearer <token>'")
    if _is_admin_token(request, token):
        return Principal("admin", "admin")
    # A wrong token on an admin route: a guess at the admin token, or a caller of another
    # kind. Both are counted (few are legitimate) off the event loop, since they write.
    await run_in_threadpool(_admin_attempt_failed, request)
    try:
        principal = request.app.state.access_tokens.principal(token, epoch())
    except NotAuthenticated:
        raise NotAuthenticated("invalid admin token") from None
    raise AdminOnly(f"this call needs the admin token, not a {principal.kind}'s")


def _admin_attempt_failed(request: Request) -> None:
    state = request.app.state
    address = request.client.host if request.client else "unknown"
    keys = [f"admin:{address}"]
    now = epoch()
    with state.autocommit_engine.connect() as conn:
        try:
            state.login_throttle.check(state.login_throttle.read(conn, keys, now), now)
        except Throttled as exc:
            state.metrics.throttled_logins.labels("admin_token").inc()
            raise TooManyAdminAttempts(
                f"too many failed admin attempts; try again in {exc.retry_after_s} s",
                retry_after_s=exc.retry_after_s,
            ) from None
        login_failed(
            conn,
            state.login_throttle,
            keys,
            now,
            method="admin_token",
            reason=f"not the admin token ({request.method} {request.url.path[:80]})",
            address=address,
        )


def require_kind(*kinds: str):  # type: ignore[no-untyped-def]
    async def dependency(request: Request) -> Principal:
        principal = principal_of(request)
        if principal.kind not in kinds:
            raise WrongCallerKind(f"this call is for: {', '.join(kinds)}")
        return principal

    dependency.reads_bearer_token = True  # type: ignore[attr-defined]
    return dependency


# For the OpenAPI document (core.openapi): these routes take `Authorization: Bearer`.
current_principal.reads_bearer_token = True  # type: ignore[attr-defined]
require_admin.reads_bearer_token = True  # type: ignore[attr-defined]
