"""Identity errors.

OAuthError (RFC 6749 5.2 body, only on /oauth/token)
 ├── InvalidRequest   400 invalid_request
 ├── InvalidGrant     400 invalid_grant
 ├── InvalidClient    401 invalid_client
 ├── TooManyAttempts  429 too_many_attempts (with Retry-After)
 └── UnsupportedGrant 400 unsupported_grant_type
The errors of who-is-calling (unauthorized, admin_only, wrong_caller_kind, too_many_attempts)
are in core.auth, with the dependencies every router uses.
"""

from __future__ import annotations


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
