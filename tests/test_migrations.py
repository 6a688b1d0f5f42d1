"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import agents.models  # noqa: F401
import audit.models  # noqa: F401
import delegation.models  # noqa: F401
import identity.models  # noqa: F401
import signing.models  # noqa: F401
from core.db import make_engine


def test_models_match_migrations(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    from core.db import upgrade_schema

    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)  # the template was migrated already: nothing to do, no error
    finally:
        engine.dispose()
