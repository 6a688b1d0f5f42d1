"""Alembic environment: runs on the connection handed over by core.db.upgrade_schema."""

from alembic import context
from sqlmodel import SQLModel

import agents.models  # noqa: F401
import audit.models  # noqa: F401  (register tables on the metadata)
import delegation.models  # noqa: F401
import identity.models  # noqa: F401
import signing.models  # noqa: F401

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    if connection.dialect.name == "postgresql":
        # Several hosts may start at once: one migrates, the others wait and find it done.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7401921)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
