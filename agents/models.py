from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
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


class Submission(SQLModel, table=True):
    """One dossier filed by a delegate under a delegation; it consumed one use."""

    __tablename__ = "submissions"

    id: str = Field(primary_key=True, max_length=40)
    delegation_id: str = Field(max_length=40, index=True)
    delegator_pid: str = Field(max_length=12, index=True)
    delegate_type: str = Field(max_length=8)
    delegate_ref: str = Field(max_length=64, index=True)  # agent code or the person's PID
    submitted_by: str = Field(max_length=64)  # client_id of the counter, or the person's PID
    counter_id: str | None = Field(default=None, max_length=64)
    operator: str | None = Field(default=None, max_length=64)
    # True when the operator is the staff member of a staff-bound token, not a declaration.
    operator_authenticated: bool = Field(default=False)
    procedure: str = Field(max_length=64)
    agency_code: str = Field(max_length=64, index=True)
    status: str = Field(default="received", max_length=16)  # received | completed
    dossier: str  # canonical JSON (RFC 8785)
    dossier_sha256: str = Field(max_length=64)
    receipt: str
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to (caller, Idempotency-Key), kept in the database so that a retry on any
    server process gets the same answer and consumes nothing."""

    __tablename__ = "idempotency_records"

    caller: str = Field(primary_key=True, max_length=80)
    key: str = Field(primary_key=True, max_length=128)
    request_sha256: str = Field(max_length=64)
    response_status: int = 0
    response_body: str = ""
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class SubmissionResult(SQLModel, table=True):
    """The agency's answer to a submission: its PDF, signed by the service with the agency's
    certificate. Kept in the database so every server process can serve it."""

    __tablename__ = "submission_results"

    submission_id: str = Field(primary_key=True, foreign_key="submissions.id", max_length=40)
    pdf: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    sha256: str = Field(max_length=64)
    level: str = Field(max_length=8)
    signed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class AuthorizationRequest(SQLModel, table=True):
    """A counter asks a citizen for a delegation; the citizen approves it on their phone. The
    code that the QR carries is a secret for its short life: looked up by its hash, and kept
    sealed (encrypted) only so that the counter can show it again."""

    __tablename__ = "authorization_requests"

    id: str = Field(primary_key=True, max_length=40)
    code_hash: str = Field(max_length=64, unique=True)
    code_sealed: str = Field(max_length=512)
    agent_code: str = Field(max_length=64, index=True)
    counter_id: str = Field(max_length=64, index=True)
    staff_code: str | None = Field(default=None, max_length=64)
    procedures: str  # JSON list of procedure codes
    max_uses: int
    valid_until: datetime = Field(sa_type=UTCDateTime, nullable=False)
    purpose: str = Field(max_length=500)
    delegator_pid: str | None = Field(default=None, max_length=12)
    status: str = Field(max_length=16)  # pending, approved, declined, cancelled
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=12)
    delegation_id: str | None = Field(default=None, max_length=40)


class StaffMember(SQLModel, table=True):
    """A person who works at an agent's counters or at an agency, known by their PID (they log
    in with VNeID) and answerable for what they file under their staff code."""

    __tablename__ = "staff"
    __table_args__ = (
        sa.UniqueConstraint("owner_kind", "owner_code", "staff_code"),
        sa.UniqueConstraint("owner_kind", "owner_code", "pid"),
    )

    id: str = Field(primary_key=True, max_length=40)
    owner_kind: str = Field(max_length=8)  # "agent" or "agency"
    owner_code: str = Field(max_length=64, index=True)
    pid: str = Field(max_length=12, index=True)
    name: str = Field(max_length=200)
    staff_code: str = Field(max_length=32)
    counters: str = Field(default="[]")  # JSON list of counter ids (agent staff)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
