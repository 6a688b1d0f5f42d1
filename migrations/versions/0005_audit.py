"""Transparency log: events, their subjects, signed checkpoints.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=True, unique=True),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("ref", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(96), nullable=False),
        sa.Column("subjects", sa.String(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=True),
        sa.Column("root_after", sa.String(64), nullable=True),
    )
    op.create_index("ix_audit_events_kind", "audit_events", ["kind"])
    op.create_index("ix_audit_events_ref", "audit_events", ["ref"])
    op.create_table(
        "audit_subjects",
        sa.Column("event_id", sa.BigInteger(), sa.ForeignKey("audit_events.id"), primary_key=True),
        sa.Column("pid", sa.String(12), primary_key=True),
    )
    op.create_index("ix_audit_subjects_pid", "audit_subjects", ["pid"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("frontier", sa.String(), nullable=False),
        sa.Column("signed", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_checkpoints", "audit_subjects", "audit_events"):
        op.drop_table(table)
