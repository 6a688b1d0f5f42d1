"""Every command that works on the database says which one: run in a terminal without
UYQUYEN_DATABASE_URL, `audit verify` checked the SQLite file (35 events instead of 17) and
said nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import require_postgres
from tests.fixtures.server import MAIN, clean_env, fresh_postgres_database

pytestmark = pytest.mark.slow
COMMANDS = [
    ["db", "upgrade"],
    ["audit", "verify"],
    ["keys", "rotate"],
    ["results", "renew"],
]


def run(cwd: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, MAIN, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_database_command_names_its_database(tmp_path: Path) -> None:
    for args in COMMANDS:
        done = run(tmp_path, args)
        assert done.returncode == 0, (args, done.stderr)
        expected = f"database: SQLite {(tmp_path / 'data' / 'uyquyen.db').resolve()}"
        assert expected in done.stderr, (args, done.stderr)
    with fresh_postgres_database(require_postgres()) as url:
        parsed = sa.make_url(url)
        said = f"database: PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
        for args in COMMANDS:
            done = run(tmp_path, args, UYQUYEN_DATABASE_URL=url)
            assert done.returncode == 0, (args, done.stderr)
            assert said in done.stderr, done.stderr
