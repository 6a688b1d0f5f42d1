from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    issued_token_type: str | None = None


class OAuthErrorResponse(BaseModel):
    error: str
    error_description: str


class Me(BaseModel):
    kind: Literal["citizen", "agent", "agency", "admin"]
    pid: str | None = None
    loa: int | None = None
    name: str | None = None
    client_id: str | None = None
    agent: str | None = None
    counter: str | None = None
    agency: str | None = None
    staff: dict[str, str] | None = Field(
        default=None, description="A staff-bound token: who acts, {staff_code, name}"
    )
    csrf_token: str | None = Field(
        default=None,
        description="Callers logged in with the browser session: the X-CSRF-Token to send "
        "with every state-changing request",
    )
