from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class Delegation(SQLModel, table=True):
    """A citizen's mandate: delegate may submit these procedures, in this window, so many times.

    `state` records what people did (pending, active, revoked, renounced); expiry, exhaustion
    and suspension are derived from the window, `uses` and `agent_suspended`.
    """

    __tablename__ = "delegations"
    __table_args__ = (sa.UniqueConstraint("status_list_n", "status_list_idx"),)

    id: str = Field(primary_key=True, max_length=40)
    delegator_pid: str = Field(max_length=12, index=True)
    delegator_name: str | None = Field(default=None, max_length=200)  # as VNeID gave it
    delegator_name_key: str | None = Field(default=None, max_length=200)  # folded, for search
    delegate_type: str = Field(max_length=8)  # agent | person
    delegate_code: str | None = Field(default=None, max_length=64, index=True)
    delegate_pid: str | None = Field(default=None, max_length=12, index=True)
    procedures: str  # JSON list of procedure codes
    note: str | None = Field(default=None, max_length=500)
    valid_from: datetime = Field(sa_type=UTCDateTime, nullable=False)
    valid_until: datetime = Field(sa_type=UTCDateTime, nullable=False)
    max_uses: int
    uses: int = 0
    state: str = Field(max_length=16)
    # Copied from the agent in the same transaction as its suspension, so that consuming a use
    # is one conditional UPDATE of this row and the status list needs no other table.
    agent_suspended: bool = False
    status_list_n: int
    status_list_idx: int
    token: str
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StatusList(SQLModel, table=True):
    """One published status list. `version` changes with any entry, so a rendered list can be
    cached until then."""

    __tablename__ = "status_lists"

    n: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = 0
