"""Who is calling: the principal, and the FastAPI dependencies that establish it from a bearer
token. Every domain's router imports these from here (core), so that none reaches up into
identity; identity supplies the checks behind them through `app.state.callers` (a
`CallerDirectory`): its access tokens, and its throttling of wrong admin tokens.

A principal is built only from a verified credential, never from what a request says.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from core.clock import epoch, utcnow
from core.errors import Forbidden, TooManyRequests, Unauthorized

Kind = Literal["citizen", "agent", "agency", "admin"]
MAX_BEARER_LENGTH = 16_384
SESSION_COOKIE = "uyq_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    kind: Kind
    subject: str  # citizen: PID; agent/agency: client_id; admin: "admin"
    loa: int | None = None  # citizens only
    name: str | None = None  # citizens only, as VNeID gave it
    agent_code: str | None = None
    counter_id: str | None = None
    agency_code: str | None = None
    expires_at: int | None = None
    auth_time: int | None = None  # browser sessions: when the person last authenticated
    staff_code: str | None = None  # a staff-bound counter or agency token: who acts
    staff_name: str | None = None

    @property
    def pid(self) -> str | None:
        return self.subject if self.kind == "citizen" else None

    @property
    def client_id(self) -> str | None:
        return self.subject if self.kind in ("agent", "agency") else None


class NotAuthenticated(Unauthorized):
    code = "unauthorized"


class AdminOnly(Forbidden):
    code = "admin_only"
    title = "Administrators only"


class WrongCallerKind(Forbidden):
    code = "wrong_caller_kind"
    title = "Not allowed for this kind of caller"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "The request did not carry this session's CSRF token"


class TooManyAdminAttempts(TooManyRequests):
    code = "too_many_attempts"
    title = "Too many failed attempts"


class CallerDirectory(Protocol):
    """What identity provides: the principal of an access token, and the record (and throttle)
    of a wrong admin token, which raises TooManyAdminAttempts once an address has had enough."""

    def principal(self, token: str, now: float) -> Principal: ...

    def admin_attempt_failed(self, request: Request) -> None: ...

    def session_principal(self, session_id: str, now: datetime) -> Principal | None: ...

    def csrf_token(self, session_id: str) -> str: ...

    def may_act(self, principal: Principal) -> bool: ...


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


def _callers(request: Request) -> CallerDirectory:
    return request.app.state.callers  # type: ignore[no-any-return]


def principal_of(request: Request) -> Principal:
    """Any authenticated caller: citizen, agent counter, agency or administrator."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("this call needs 'Authorization: Bearer <token>'")
    if _is_admin_token(request, token):
        return Principal("admin", "admin")
    return _callers(request).principal(token, epoch())


def check_csrf(request: Request, session_id: str, given: str | None) -> None:
    """A state-changing request made with the session cookie must carry the session's CSRF
    token (header X-CSRF-Token, or form field csrf_token on pages): another site's form can
    make the browser send the cookie, never the token."""
    expected = _callers(request).csrf_token(session_id)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfFailed("reload the page and try again")


async def session_principal(request: Request) -> Principal | None:
    """The citizen of the browser session, if the request carries a live one."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    return await run_in_threadpool(_callers(request).session_principal, session_id, utcnow())


async def caller(request: Request) -> Principal:
    """A bearer token, or else the browser's session (with CSRF on state-changing requests)."""
    if request.headers.get("authorization"):
        principal = principal_of(request)
        if principal.kind in ("agent", "agency") and not await run_in_threadpool(
            _callers(request).may_act, principal
        ):  # an agent's suspension, a staff member's deactivation: the token stops at once
            raise NotAuthenticated("this credential is suspended or its staff member deactivated")
        return principal
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise NotAuthenticated("this call needs 'Authorization: Bearer <token>' or a login")
    by_session = await session_principal(request)
    if by_session is None:
        raise NotAuthenticated("the session has ended: log in again")
    if request.method not in SAFE_METHODS:
        check_csrf(request, session_id, request.headers.get(CSRF_HEADER))
    return by_session


# The dependencies are `async def` on purpose: a signature check of ~0.1 ms runs on the event
# loop for less than FastAPI's hop of a plain `def` dependency to the thread pool (~0.2 ms);
# only a session cookie's database lookup goes to the thread pool.
async def current_principal(request: Request) -> Principal:
    return await caller(request)


async def require_admin(request: Request) -> Principal:
    """The admin token, with failed attempts throttled per address and put on the record."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("this call needs 'Authorization: Bearer <token>'")
    if _is_admin_token(request, token):
        return Principal("admin", "admin")
    # A wrong token on an admin route: a guess at the admin token, or a caller of another
    # kind. Both are counted (few are legitimate) off the event loop, since they write.
    await run_in_threadpool(_callers(request).admin_attempt_failed, request)
    try:
        principal = _callers(request).principal(token, epoch())
    except NotAuthenticated:
        raise NotAuthenticated("invalid admin token") from None
    raise AdminOnly(f"this call needs the admin token, not a {principal.kind}'s")


def require_kind(*kinds: str):  # type: ignore[no-untyped-def]
    async def dependency(request: Request) -> Principal:
        principal = await caller(request)
        if principal.kind not in kinds:
            raise WrongCallerKind(f"this call is for: {', '.join(kinds)}")
        return principal

    dependency.reads_bearer_token = True  # type: ignore[attr-defined]
    return dependency


# For the OpenAPI document (core.openapi): these routes take `Authorization: Bearer`.
current_principal.reads_bearer_token = True  # type: ignore[attr-defined]
require_admin.reads_bearer_token = True  # type: ignore[attr-defined]
