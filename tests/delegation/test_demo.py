"""`python main.py demo` tells the whole story, numbered and in plain words, and ends by saying
every step passed: on its own temporary server, and against a running one (`--url`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.server import ADMIN_TOKEN, MAIN, clean_env, free_port, running_server

pytestmark = pytest.mark.slow
STORY = (
    "logs in with VNeID",
    "grants VNPost",
    "submits the citizen's dossier",
    "checks the receipt",
    "answers with a PDF, which the service signs",
    "downloads the signed result",
    "verifies the signed PDF",
    "audit trail",
    "inclusion proofs",
)


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, MAIN, "demo", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_demo_on_its_own_temporary_server(tmp_path: Path) -> None:
    proc = demo(cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "All 16 steps passed."
    assert sum(line.startswith("   ok: ") for line in lines) == 16
    for part in STORY:
        assert part in proc.stdout, part
    assert "pdfsig: Signature is Valid" in proc.stdout  # poppler agrees (CI installs it)
    assert "audit log verifies" in proc.stdout


def test_demo_against_a_running_server(tmp_path: Path) -> None:
    env = clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)
    with running_server(tmp_path, free_port(), env=env) as server:
        proc = demo("--url", server.base, "--admin-token", ADMIN_TOKEN, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        wrong = demo("--url", server.base, "--admin-token", "wrong", cwd=tmp_path)
        missing = demo("--url", server.base, cwd=tmp_path)
    # the same 16 steps as the README says; the last checks the log over HTTP
    assert proc.stdout.strip().splitlines()[-1] == "All 16 steps passed."
    assert "hash to the root signed" in proc.stdout
    assert "Warning: the story writes into " + server.base in proc.stderr
    for part in STORY:
        assert part in proc.stdout, part
    assert wrong.returncode == 2 and "does not take this admin token" in wrong.stderr
    assert missing.returncode == 2 and "--admin-token" in missing.stderr
    assert "Traceback" not in wrong.stderr + missing.stderr
