"""Shared fixtures. Every app-level test runs once on SQLite and once on PostgreSQL (when
UYQUYEN_TEST_POSTGRES_URL is set, as .ci/run does), each test on a fresh database copied from a
migrated template."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from core.db import make_engine, upgrade_schema
from core.settings import Settings
from tests.fixtures.issuer import LoopbackIssuer
from tests.fixtures.prerequisites import INSTALL, ThrowawayPostgres, missing_tools

pytest_plugins = ["tests.fixtures.world"]

_THROWAWAY: ThrowawayPostgres | None = None
if not os.environ.get("UYQUYEN_TEST_POSTGRES_URL"):
    try:
        _THROWAWAY = ThrowawayPostgres()
        # Exported, so that every test (and every server process a test starts) sees it.
        os.environ["UYQUYEN_TEST_POSTGRES_URL"] = _THROWAWAY.url
    except (FileNotFoundError, subprocess.SubprocessError, OSError):
        _THROWAWAY = None
POSTGRES_URL = os.environ.get("UYQUYEN_TEST_POSTGRES_URL")


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = missing_tools()
    if not POSTGRES_URL:
        missing.insert(
            0, "PostgreSQL (postgresql: initdb and pg_ctl, or UYQUYEN_TEST_POSTGRES_URL)"
        )
    if missing and not os.environ.get("UYQUYEN_TEST_ALLOW_SKIPS"):
        pytest.exit(
            "the suite needs what this machine lacks: "
            + "; ".join(missing)
            + f". Install with: {INSTALL} (or set UYQUYEN_TEST_ALLOW_SKIPS=1 to skip those tests)",
            returncode=4,
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _THROWAWAY is not None:
        _THROWAWAY.stop()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The service reads UYQUYEN_* settings; tests set what they need explicitly.
    for name in list(os.environ):
        if name.startswith("UYQUYEN_") and not name.startswith("UYQUYEN_TEST_"):
            monkeypatch.delenv(name)


class _SqliteTemplates:
    def __init__(self, root: Path):
        self.template = root / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        upgrade_schema(engine)
        engine.dispose()

    def fresh(self, tmp: Path) -> str:
        target = tmp / "uyquyen.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        pass


class _PostgresTemplates:
    """CREATE DATABASE ... TEMPLATE copies a migrated database in tens of milliseconds."""

    def __init__(self, url: str):
        self.base = sa.make_url(url)
        self.admin = sa.create_engine(
            self.base, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )
        self.template_name = f"uyq_tmpl_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.template_name}"')
        engine = make_engine(self.base.set(database=self.template_name).render_as_string(False))
        upgrade_schema(engine)
        engine.dispose()

    def fresh(self, tmp: Path) -> str:
        name = f"uyq_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template_name}"')
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = sa.make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.template_name}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> _SqliteTemplates:
    return _SqliteTemplates(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def _postgres_templates() -> Iterator[_PostgresTemplates | None]:
    if not POSTGRES_URL:
        yield None
        return
    templates = _PostgresTemplates(POSTGRES_URL)
    yield templates
    templates.close()


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_templates: _SqliteTemplates,
    _postgres_templates: _PostgresTemplates | None,
) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "postgresql" and _postgres_templates is None:
        if os.environ.get("CI") == "true":  # CI must test both backends: never skip silently
            pytest.fail("UYQUYEN_TEST_POSTGRES_URL is not set; CI runs the PostgreSQL half too")
        pytest.skip("UYQUYEN_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    templates = _sqlite_templates if request.param == "sqlite" else _postgres_templates
    assert templates is not None
    url = templates.fresh(tmp_path)
    yield url
    templates.drop(url)


@pytest.fixture
def issuer() -> Iterator[LoopbackIssuer]:
    issuer = LoopbackIssuer()
    yield issuer
    issuer.close()


ADMIN_TOKEN = "test-admin-token-" + "x" * 24
PUBLIC_URL = "http://testserver"


@pytest.fixture
def make_settings(tmp_path: Path, db_url: str, issuer: LoopbackIssuer) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "database_url": db_url,
            "public_url": PUBLIC_URL,
            "admin_token": ADMIN_TOKEN,
            "vneid_issuer": issuer.url,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Build the app as `serve` does (bootstrap, then create_app) and talk HTTP to it."""
    from main import bootstrap, create_app

    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        settings = make_settings(**overrides)
        bootstrap(settings)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.app.state.engine.dispose()  # type: ignore[attr-defined]
        c.app.state.autocommit_engine.dispose()  # type: ignore[attr-defined]
        c.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def require_postgres() -> str:
    """The PostgreSQL URL for a test's own server or command. The session stops at start
    when there is none (pytest_sessionstart), unless UYQUYEN_TEST_ALLOW_SKIPS says a missing
    tool may skip; in CI it never may."""
    if not POSTGRES_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("UYQUYEN_TEST_POSTGRES_URL is not set; CI runs the PostgreSQL half too")
        pytest.skip("no PostgreSQL and UYQUYEN_TEST_ALLOW_SKIPS=1")
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def server_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of a real server process on each backend, and the database URL a test
    can inspect."""
    from tests.fixtures.server import ADMIN_TOKEN as SERVER_ADMIN_TOKEN
    from tests.fixtures.server import clean_env, fresh_postgres_database

    env = clean_env(UYQUYEN_ADMIN_TOKEN=SERVER_ADMIN_TOKEN)
    if request.param == "sqlite":
        yield env, f"sqlite:///{tmp_path / 'data' / 'uyquyen.db'}"
        return
    with fresh_postgres_database(require_postgres()) as url:
        env["UYQUYEN_DATABASE_URL"] = url
        yield env, url
