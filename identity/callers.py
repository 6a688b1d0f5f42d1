"""Identity's side of `core.auth.CallerDirectory`: the principal of an access token, and the
record and throttle of wrong admin tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from core.auth import Principal, TooManyAdminAttempts
from core.clock import epoch
from identity.browser import BrowserLogins
from identity.service import AccessTokens, login_failed
from identity.throttle import LoginThrottle, Throttled


class Callers:
    def __init__(
        self, tokens: AccessTokens, throttle: LoginThrottle, logins: BrowserLogins, state: Any
    ):
        self.tokens = tokens
        self.throttle = throttle
        self.logins = logins
        self.state = state  # the app's state: its autocommit engine and metrics

    def session_principal(self, session_id: str, now: datetime) -> Principal | None:
        principal = self.logins.principal(session_id, now)
        if principal is not None and principal.kind != "citizen":
            if not self.may_act(principal):  # suspension or deactivation ends it at once
                return None
        return principal

    def csrf_token(self, session_id: str) -> str:
        return self.logins.csrf_token(session_id)

    def may_act(self, principal: Principal) -> bool:
        """A counter's or an agency's caller acts only while its owner may (an agent's
        suspension stops its counters' tokens and its staff's browser sessions at once, reads
        included) and, when bound to a staff member, while that person is active staff there."""
        owner = principal.agent_code if principal.kind == "agent" else principal.agency_code
        if owner is None:
            return False
        directory = self.state.staff_directory
        with self.state.read_engine.connect() as conn:
            if not directory.owner_active(conn, principal.kind, owner):
                return False
            if principal.staff_code is None:
                return True
            return bool(directory.is_active(conn, principal.kind, owner, principal.staff_code))

    def principal(self, token: str, now: float) -> Principal:
        return self.tokens.principal(token, now)

    def admin_attempt_failed(self, request: Request) -> None:
        address = request.client.host if request.client else "unknown"
        keys = [f"admin:{address}"]
        now = epoch()
        with self.state.autocommit_engine.connect() as conn:
            try:
                self.throttle.check(self.throttle.read(conn, keys, now), now)
            except Throttled as exc:
                self.state.metrics.throttled_logins.labels("admin_token").inc()
                raise TooManyAdminAttempts(
                    f"too many failed admin attempts; try again in {exc.retry_after_s} s",
                    retry_after_s=exc.retry_after_s,
                ) from None
            login_failed(
                conn,
                self.throttle,
                keys,
                now,
                method="admin_token",
                reason=f"not the admin token ({request.method} {request.url.path[:80]})",
                address=address,
            )
