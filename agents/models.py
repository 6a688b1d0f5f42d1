from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class Agency(SQLModel, table=True):
    """An authority that handles procedures (a ward People's Committee, a department...)."""

    __tablename__ = "agencies"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Procedure(SQLModel, table=True):
    """An administrative procedure of the national catalogue, handled by one agency."""

    __tablename__ = "procedures"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=500)
    agency_code: str = Field(foreign_key="agencies.code", max_length=64, index=True)


class Agent(SQLModel, table=True):
    """An organization that submits on citizens' behalf (VNPost, Viettel Post, FPT Shop...)."""

    __tablename__ = "agents"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=16)  # post_office | retail | other
    status: str = Field(default="active", max_length=16)  # active | suspended
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Counter(SQLModel, table=True):
    """One service point of an agent; it authenticates with its own client credential."""

    __tablename__ = "counters"

    id: str = Field(primary_key=True, max_length=64)
    agent_code: str = Field(foreign_key="agents.code", max_length=64, index=True)
    name: str = Field(max_length=255)
    ward_code: str = Field(max_length=16)
    client_id: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
