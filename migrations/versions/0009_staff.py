"""Staff of counters and agencies; whether a submission's operator was authenticated.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner_kind", sa.String(8), nullable=False),
        sa.Column("owner_code", sa.String(64), nullable=False),
        sa.Column("pid", sa.String(12), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("staff_code", sa.String(32), nullable=False),
        sa.Column("counters", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deactivated_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("owner_kind", "owner_code", "staff_code"),
        sa.UniqueConstraint("owner_kind", "owner_code", "pid"),
    )
    op.create_index("ix_staff_owner_code", "staff", ["owner_code"])
    op.create_index("ix_staff_pid", "staff", ["pid"])
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(
            sa.Column(
                "operator_authenticated", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("operator_authenticated")
    op.drop_table("staff")
