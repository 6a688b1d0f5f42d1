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
        if principal is not None and principal.staff_code is not None:
            if not self.staff_active(principal):  # deactivation ends the staff session at once
                return None
        return principal

    def csrf_token(self, session_id: str) -> str:
        return self.logins.csrf_token(session_id)

    def staff_active(self, principal: Principal) -> bool:
        owner = principal.agent_code if principal.kind == "agent" else principal.agency_code
        if owner is None or principal.staff_code is None:
            return False
        with self.state.read_engine.connect() as conn:
            return bool(
                self.state.staff_directory.is_active(
                    conn, principal.kind, owner, principal.staff_code
                )
            )

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
