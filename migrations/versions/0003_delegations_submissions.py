"""Delegations, status lists, submissions and idempotency records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_lists",
        sa.Column("n", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.bulk_insert(
        sa.table("status_lists", sa.column("n"), sa.column("allocated"), sa.column("version")),
        [{"n": 1, "allocated": 0, "version": 0}],
    )
    op.create_table(
        "delegations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("delegator_pid", sa.String(12), nullable=False),
        sa.Column("delegate_type", sa.String(8), nullable=False),
        sa.Column("delegate_code", sa.String(64), nullable=True),
        sa.Column("delegate_pid", sa.String(12), nullable=True),
        sa.Column("procedures", sa.String(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("agent_suspended", sa.Boolean(), nullable=False),
        sa.Column("status_list_n", sa.Integer(), nullable=False),
        sa.Column("status_list_idx", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("status_list_n", "status_list_idx"),
    )
    op.create_index("ix_delegations_delegator_pid", "delegations", ["delegator_pid"])
    op.create_index("ix_delegations_delegate_code", "delegations", ["delegate_code"])
    op.create_index("ix_delegations_delegate_pid", "delegations", ["delegate_pid"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("delegation_id", sa.String(40), nullable=False),
        sa.Column("delegator_pid", sa.String(12), nullable=False),
        sa.Column("delegate_type", sa.String(8), nullable=False),
        sa.Column("delegate_ref", sa.String(64), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("counter_id", sa.String(64), nullable=True),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("procedure", sa.String(64), nullable=False),
        sa.Column("agency_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dossier", sa.String(), nullable=False),
        sa.Column("dossier_sha256", sa.String(64), nullable=False),
        sa.Column("receipt", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_submissions_delegation_id", "submissions", ["delegation_id"])
    op.create_index("ix_submissions_delegator_pid", "submissions", ["delegator_pid"])
    op.create_index("ix_submissions_delegate_ref", "submissions", ["delegate_ref"])
    op.create_index("ix_submissions_agency_code", "submissions", ["agency_code"])
    op.create_table(
        "idempotency_records",
        sa.Column("caller", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("idempotency_records", "submissions", "delegations", "status_lists"):
        op.drop_table(table)
