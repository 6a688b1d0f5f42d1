from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class OAuthClient(SQLModel, table=True):
    """A client credential of an agent counter or an agency (OAuth2 client credentials)."""

    __tablename__ = "oauth_clients"

    client_id: str = Field(primary_key=True, max_length=64)
    # passlib hash of the secret; the secret itself is shown once and never stored.
    secret_hash: str = Field(max_length=255)
    kind: str = Field(max_length=16)  # "agent" (a counter) or "agency"
    owner_code: str = Field(max_length=64, index=True)  # agent or agency code
    counter_id: str | None = Field(default=None, max_length=64)
    # Disabled clients (a suspended agent's counters) get invalid_client.
    disabled: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ExchangedIdToken(SQLModel, table=True):
    """One row per ID token already exchanged, so that a replay fails in every process.

    Keyed by the SHA-256 of the token's signing input (header.payload), not of the whole
    token: an ECDSA signature can be re-encoded into another valid one, the signed part cannot.
    """

    __tablename__ = "exchanged_id_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class LoginFailures(SQLModel, table=True):
    """Failed logins counted per key ("client:<id>", "address:<ip>", ...) in fixed windows, in
    the database so that every server process and host sees the same count."""

    __tablename__ = "login_failures"

    key: str = Field(primary_key=True, max_length=200)
    window_start: int = Field(sa_type=sa.BigInteger, nullable=False)  # epoch seconds
    failures: int = Field(nullable=False)
    # The count of the window before `window_start`, for a sliding estimate: 10 at the end of
    # one window and 10 at the start of the next are 20 in a minute, not twice 10.
    previous: int = Field(default=0, nullable=False)


class WebSession(SQLModel, table=True):
    """A logged-in browser. The cookie holds a random id; only its hash is stored, so a copy of
    the database logs nobody in."""

    __tablename__ = "web_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    pid: str = Field(max_length=12, index=True)
    name: str | None = Field(default=None, max_length=200)
    loa: int
    auth_time: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    last_seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A staff member who chose to work at a counter: the session then acts for that counter,
    # in that person's name (as a staff-bound token does).
    acting_kind: str | None = Field(default=None, max_length=8)
    acting_owner: str | None = Field(default=None, max_length=64)
    acting_counter: str | None = Field(default=None, max_length=64)
    acting_client_id: str | None = Field(default=None, max_length=64)
    staff_code: str | None = Field(default=None, max_length=32)
    staff_name: str | None = Field(default=None, max_length=200)
