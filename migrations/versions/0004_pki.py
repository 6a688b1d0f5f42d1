"""Development PKI certificates and keys; signed results of submissions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pki_certificates",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.String(64), nullable=True),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("cert_pem", sa.String(), nullable=False),
        sa.Column("key_pem", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_pki_certificates_issuer", "pki_certificates", ["issuer"])
    op.create_index("ix_pki_certificates_serial", "pki_certificates", ["serial"])
    op.create_table(
        "submission_results",
        sa.Column(
            "submission_id", sa.String(40), sa.ForeignKey("submissions.id"), primary_key=True
        ),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("submission_results")
    op.drop_table("pki_certificates")
