"""Logins in progress no longer stored; dead sessions purged; sliding throttle windows.

Browser logins in progress are no longer stored (the browser's cookie carries them, sealed),
so an anonymous caller starting logins makes the service store nothing; dead web sessions are
purged by creation time; throttles count in sliding windows (the previous window's count is
kept beside the current one).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_login_attempts_created_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.create_index("ix_web_sessions_created_at", "web_sessions", ["created_at"])
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(
            sa.Column("previous", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("previous")
    op.drop_index("ix_web_sessions_created_at", table_name="web_sessions")
    op.create_table(
        "login_attempts",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("next_path", sa.String(512), nullable=False),
        sa.Column("loa", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_login_attempts_created_at", "login_attempts", ["created_at"])
