"""The README's walk-through, run exactly as written: its `sh` blocks, in order, as one script
with `set -euo pipefail`, in a fresh folder next to a fresh server. An edit that breaks the
README breaks the build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.server import MAIN, clean_env, free_port, running_server

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[1] / "README.md"


def walkthrough() -> list[str]:
    section = README.read_text().split("\n## A walk-through\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_the_walkthrough_has_every_party() -> None:
    script = "\n".join(walkthrough())
    for step in (
        "dev id-token",
        "/oauth/token",
        "/v1/delegations",
        "/v1/submissions",
        "/result",
        "/v1/signatures/pdf/verify",
        "pdfsig",
        "audit verify",
    ):
        assert step in script, step
    assert "curl -s " not in script  # every curl fails loudly (-f)


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    for tool in ("pdfsig", "certutil"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install poppler-utils libnss3-tools")
    (tmp_path / "main.py").symlink_to(MAIN)
    port = free_port()
    with running_server(tmp_path, port, env=clean_env()) as server:
        env = clean_env(API=server.base)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + "\n".join(walkthrough())],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-4000:] + "\n---\n" + run.stderr[-4000:]
    assert json.loads((tmp_path / "report.json").read_text())["valid"] is True
    assert "Signature is Valid" in (tmp_path / "pdfsig.txt").read_text()
    assert (tmp_path / "decision-signed.pdf").read_bytes().startswith(b"%PDF-")
    assert "audit log verifies" in run.stdout
    assert "False revoked" in run.stdout  # the offline check
    assert "'sub': 'NV-0042'" in run.stdout and "'authenticated': True" in run.stdout  # the clerk
