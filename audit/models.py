from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One event of the transparency log. Requests only insert (no lock); the sequencer later
    gives it its place `seq` in the Merkle tree, with its leaf hash and the tree root after it."""

    __tablename__ = "audit_events"

    # INTEGER on SQLite, where only that type auto-numbers a primary key.
    id: int | None = Field(
        default=None, sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    kind: str = Field(max_length=48, index=True)
    ref: str | None = Field(default=None, max_length=64, index=True)  # the object it is about
    actor: str = Field(max_length=96)
    subjects: str = "[]"  # JSON list of the PIDs it concerns
    data: str = "{}"  # JSON object: ids, codes, hashes; never dossiers, secrets or tokens
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    leaf_hash: str | None = Field(default=None, max_length=64)
    root_after: str | None = Field(default=None, max_length=64)


class AuditSubject(SQLModel, table=True):
    """Which citizen an event concerns, so that each can list their own."""

    __tablename__ = "audit_subjects"

    event_id: int = Field(sa_type=sa.BigInteger, foreign_key="audit_events.id", primary_key=True)
    pid: str = Field(max_length=12, primary_key=True, index=True)


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of the tree: size, root, time (compact JWS, typ checkpoint+jwt)."""

    __tablename__ = "audit_checkpoints"

    tree_size: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    root_hash: str = Field(max_length=64)
    frontier: str  # JSON list of hex hashes: lets the next batch extend the tree in O(log n)
    signed: str
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
