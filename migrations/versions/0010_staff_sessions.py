"""Staff sessions, the delegator's name on a delegation, status lists without a shared count.

A browser session can act for a counter (staff sessions); the delegator's name is kept on a
delegation, so that a counter can find the delegations it holds by the citizen's name. Status
lists no longer count their entries in a shared row (every grant waited on it): the count is
read from the delegations when needed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("acting_kind", sa.String(8), nullable=True))
        batch.add_column(sa.Column("acting_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("acting_counter", sa.String(64), nullable=True))
        batch.add_column(sa.Column("acting_client_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("staff_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("staff_name", sa.String(200), nullable=True))
    with op.batch_alter_table("delegations") as batch:
        batch.add_column(sa.Column("delegator_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("delegator_name_key", sa.String(200), nullable=True))
    with op.batch_alter_table("status_lists") as batch:
        batch.drop_column("allocated")


def downgrade() -> None:
    with op.batch_alter_table("status_lists") as batch:
        batch.add_column(
            sa.Column("allocated", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("delegations") as batch:
        batch.drop_column("delegator_name_key")
        batch.drop_column("delegator_name")
    with op.batch_alter_table("web_sessions") as batch:
        for column in (
            "staff_name",
            "staff_code",
            "acting_client_id",
            "acting_counter",
            "acting_owner",
            "acting_kind",
        ):
            batch.drop_column(column)
