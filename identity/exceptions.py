"""Identity errors.

OAuthError (RFC 6749 5.2 body, only on /oauth/token)
 ├── InvalidRequest   400 invalid_request
 ├── InvalidGrant     400 invalid_grant
 ├── InvalidClient    401 invalid_client
 ├── TooManyAttempts  429 too_many_attempts (with Retry-After)
 └── UnsupportedGrant 400 unsupported_grant_type
NotAuthenticated (Unauthorized 401 "unauthorized")   every other endpoint, problem+json
AdminOnly (Forbidden 403 "admin_only")
TooManyAdminAttempts (TooManyRequests 429 "too_many_attempts")
WrongCallerKind (Forbidden 403 "wrong_caller_kind")
"""

from __future__ import annotations

from core.errors import Forbidden, TooManyRequests, Unauthorized


class OAuthError(Exception):
    status = 400
    error = "invalid_request"

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class InvalidClient(OAuthError):
    status, error = 401, "invalid_client"


class TooManyAttempts(OAuthError):
    status, error = 429, "too_many_attempts"

    def __init__(self, description: str, retry_after_s: int):
        super().__init__(description)
        self.retry_after_s = retry_after_s


class UnsupportedGrant(OAuthError):
    error = "unsupported_grant_type"


class NotAuthenticated(Unauthorized):
    code = "unauthorized"


class AdminOnly(Forbidden):
    code = "admin_only"
    title = "Administrators only"


class WrongCallerKind(Forbidden):
    code = "wrong_caller_kind"
    title = "Not allowed for this kind of caller"


class TooManyAdminAttempts(TooManyRequests):
    code = "too_many_attempts"
    title = "Too many failed attempts"
