"""Database engine, session per request, and schema migrations.

One session per request; services only `flush()`, the router commits once before it answers,
so a 201 is only ever sent for committed work.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# What an INTEGER and a BIGINT column hold (PostgreSQL; SQLite holds 64 bits): numbers from
# outside are bounded by these before any query sees them.
DB_INT_MAX = 2**31 - 1
DB_BIGINT_MAX = 2**63 - 1


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=False
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers run beside the single writer; busy_timeout makes writers queue
            # instead of failing with "database is locked" when several processes write.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # Writers take the write lock at BEGIN: a deferred transaction that reads and then
            # writes can fail with SQLITE_BUSY without waiting, which would surface as a 500.
            # Read-only work (engine.execution_options(read_only=True)) must not: it would
            # queue behind, or deadlock with, a request's own open write transaction.
            read_only = conn.get_execution_options().get("read_only", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        # pysqlite's own transaction handling must step aside for the BEGIN above.
        @event.listens_for(engine, "connect", insert=True)
        def _no_pysqlite_begin(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None

        return engine
    # Per process, with the autocommit pool beside this one: N worker processes hold at most
    # N x 2 x (pool + overflow) connections, which must stay under PostgreSQL's max_connections
    # (100 by default). A request that finds the pool busy waits for a connection rather than
    # failing. No pre-ping (a round trip per checkout): a connection cut by a restart fails its
    # request with a 503 and the pool drops every older connection
    # (tests/core/test_database_reconnect.py).
    return sa.create_engine(
        url, pool_pre_ping=False, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=30
    )


class InsertIfAbsent:
    """`INSERT .. ON CONFLICT DO NOTHING RETURNING column`, built once for each dialect: one
    statement that either claims a row or says it was already there (no SAVEPOINT)."""

    def __init__(self, table: sa.Table, returning: sa.Column, /, **values: object):
        self._statements = {
            name: insert(table).values(**values).on_conflict_do_nothing().returning(returning)
            for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
        }

    def __call__(self, session: Session, params: dict[str, object]) -> bool:
        """True if this call inserted the row."""
        statement = self._statements[session.get_bind().dialect.name]
        return session.execute(statement, params).first() is not None


def upgrade_schema(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied (idempotent, safe from several starters)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def read_only(engine: Engine) -> Engine:
    """The same pool, for transactions that only read (no write lock on SQLite).

    On PostgreSQL they run in autocommit: under READ COMMITTED every statement takes its own
    snapshot anyway, so a read transaction would buy no consistency, only a BEGIN and a
    ROLLBACK round trip per request.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT", read_only=True)
    return engine.execution_options(read_only=True)


def make_autocommit_engine(engine: Engine, pool_size: int, max_overflow: int) -> Engine:
    """For reads and for work whose writes are one statement each (a login: one read, one
    INSERT). On PostgreSQL: a second pool whose connections are in autocommit from the start,
    so such a request sends no BEGIN and no COMMIT and switches no isolation level (measured on
    a client-credentials grant: 300 us of CPU instead of 500). SQLite has no round trips to save
    and must take its write lock at BEGIN: there it is the engine itself."""
    if engine.dialect.name != "postgresql":
        return engine
    return sa.create_engine(
        engine.url,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=30,
    )


def read_engine(engine: Engine, autocommit_engine: Engine) -> Engine:
    """Where GET routes read: the autocommit pool on PostgreSQL, a deferred (no write lock)
    transaction on SQLite."""
    return autocommit_engine if engine.dialect.name == "postgresql" else read_only(engine)


# The session dependencies are async generators: opening a Session does no I/O (it connects
# on first use, in the route's thread), and closing one after a commit does none either, so
# they run on the event loop instead of paying two hops to the thread pool per request.
async def get_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: one session per request, rolled back unless the router committed."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """For GET routes: reads only, never blocks behind a writer."""
    with Session(request.app.state.read_engine) as session:
        yield session


@contextmanager
def temporary_postgres_database(url: str, prefix: str = "uyq_tmp") -> Iterator[str]:
    """A fresh, empty database on the server of `url`, dropped afterwards (tests, benchmarks)."""
    base = sa.make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
