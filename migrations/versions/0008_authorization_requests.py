"""Counter-initiated authorization requests.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authorization_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("code_sealed", sa.String(512), nullable=False),
        sa.Column("agent_code", sa.String(64), nullable=False),
        sa.Column("counter_id", sa.String(64), nullable=False),
        sa.Column("staff_code", sa.String(64), nullable=True),
        sa.Column("procedures", sa.String(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("delegator_pid", sa.String(12), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(12), nullable=True),
        sa.Column("delegation_id", sa.String(40), nullable=True),
    )
    op.create_index(
        "ix_authorization_requests_agent_code", "authorization_requests", ["agent_code"]
    )
    op.create_index(
        "ix_authorization_requests_counter_id", "authorization_requests", ["counter_id"]
    )


def downgrade() -> None:
    op.drop_table("authorization_requests")
