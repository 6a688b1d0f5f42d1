"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import agents.models  # noqa: F401
import audit.models  # noqa: F401
import delegation.models  # noqa: F401
import identity.models  # noqa: F401
import signing.models  # noqa: F401
from core.db import make_engine


def head_revision() -> str:
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(Path(__file__).resolve().parents[1] / "migrations")
    )
    return ScriptDirectory.from_config(config).get_current_head() or ""


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
        with engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
            tables = set(sa.inspect(conn).get_table_names())
        assert versions == [(head_revision(),)]
        assert {
            "oauth_clients",
            "delegations",
            "submissions",
            "audit_events",
            "login_failures",
        } <= tables
    finally:
        engine.dispose()


def test_each_migration_logs_one_line() -> None:
    """Alembic logs a revision's docstring up to its first blank line: a summary that runs on
    spilled four lines into every first start's output."""
    from pathlib import Path

    for path in sorted(
        (Path(__file__).resolve().parent.parent / "migrations/versions").glob("0*.py")
    ):
        doc = path.read_text().split('"""')[1]
        summary = doc.split("\n\n", 1)[0]
        assert "\n" not in summary.strip(), path.name
