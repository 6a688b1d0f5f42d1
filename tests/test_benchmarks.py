"""The benchmarks keep running (no timing is asserted: they measure, tests check behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_in_process_and_pdf_benchmarks_print_a_table_and_write_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "inproc,pdf",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "ID-token verify ES256 (warm JWKS)" in proc.stdout and "| ratio |" in proc.stdout
    rows = json.loads(out.read_text())["rows"]
    names = {r["name"] for r in rows}
    assert {"raw ES256 verify (cryptography)", "delegation-token verify + status-list lookup",
            "sign B-B, 1 page (warm, in-process)", "sign B-B: 10 MB minus 1 page"} <= names
    assert all(r["ratio"] is None or r["ratio"] > 0 for r in rows)
