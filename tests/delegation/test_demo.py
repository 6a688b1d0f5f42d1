"""`python main.py demo` tells the whole story and ends by saying every step passed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.server import ADMIN_TOKEN, MAIN, clean_env, free_port, running_server

pytestmark = pytest.mark.slow


def test_demo_on_its_own_temporary_server(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, MAIN, "demo"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "All 9 steps passed."
    assert sum(line.startswith("   ok: ") for line in lines) == 9
    assert "exhausted" in proc.stdout and "revoked" in proc.stdout


def test_demo_against_a_running_server(tmp_path: Path) -> None:
    env = clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)
    with running_server(tmp_path, free_port(), env=env) as server:
        proc = subprocess.run(
            [sys.executable, MAIN, "demo", "--url", server.base, "--admin-token", ADMIN_TOKEN],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        wrong = subprocess.run(
            [sys.executable, MAIN, "demo", "--url", server.base, "--admin-token", "wrong"],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert proc.stdout.strip().splitlines()[-1] == "All 9 steps passed."
    assert wrong.returncode == 1 and "Step 2 of 9 failed." in wrong.stdout
