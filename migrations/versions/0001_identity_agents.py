"""Service keys, OAuth clients, exchanged ID tokens, agents, counters, agencies, procedures.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_jwk", sa.String(), nullable=False),
        sa.Column("private_key_pem", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("publish_until", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_code", sa.String(64), nullable=False),
        sa.Column("counter_id", sa.String(64), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_oauth_clients_owner_code", "oauth_clients", ["owner_code"])
    op.create_table(
        "exchanged_id_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_exchanged_id_tokens_expires_at", "exchanged_id_tokens", ["expires_at"])
    op.create_table(
        "agencies",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "procedures",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("agency_code", sa.String(64), sa.ForeignKey("agencies.code"), nullable=False),
    )
    op.create_index("ix_procedures_agency_code", "procedures", ["agency_code"])
    op.create_table(
        "agents",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "counters",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("agent_code", sa.String(64), sa.ForeignKey("agents.code"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("ward_code", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_counters_agent_code", "counters", ["agent_code"])


def downgrade() -> None:
    for table in (
        "counters",
        "agents",
        "procedures",
        "agencies",
        "exchanged_id_tokens",
        "oauth_clients",
        "service_keys",
    ):
        op.drop_table(table)
