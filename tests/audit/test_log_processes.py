"""The log under real server processes: after the demo, and under concurrent load on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.agents.test_submission_concurrency import fire
from tests.conftest import POSTGRES_URL
from tests.fixtures.server import (
    ADMIN_TOKEN,
    MAIN,
    Api,
    clean_env,
    free_port,
    fresh_postgres_database,
    running_server,
    submission_body,
)

pytestmark = pytest.mark.slow


def audit_verify(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, MAIN, "audit", "verify"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_audit_verify_after_the_demo_and_after_tampering(tmp_path: Path) -> None:
    env = clean_env(UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN)
    with running_server(tmp_path, free_port(), env=env) as server:
        demo = subprocess.run(
            [sys.executable, MAIN, "demo", "--url", server.base, "--admin-token", ADMIN_TOKEN],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        citizen = Api(server.base).citizen("001099012345")
        kinds = [
            e["kind"] for e in httpx.get(f"{server.base}/v1/audit/events", headers=citizen).json()
        ]
    assert (
        kinds.index("delegation.granted")
        < kinds.index("submission.accepted")
        < kinds.index("delegation.revoked")
    )

    ok = audit_verify(tmp_path, env)
    assert ok.returncode == 0 and "audit log verifies" in ok.stdout, ok.stdout + ok.stderr

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'uyquyen.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET actor = 'forged-actor' WHERE seq = 7"))
    engine.dispose()
    bad = audit_verify(tmp_path, env)
    assert bad.returncode == 1 and "first bad sequence number 7" in bad.stdout, bad.stdout


def test_200_concurrent_submissions_on_postgresql_with_4_workers(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("UYQUYEN_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    with fresh_postgres_database(POSTGRES_URL) as url:
        env = clean_env(
            UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN,
            UYQUYEN_DATABASE_URL=url,
            UYQUYEN_AUDIT_INTERVAL_S="0.5",
        )
        with running_server(tmp_path, free_port(), "--workers", "4", env=env) as server:
            api = Api(server.base)
            citizen, counter = api.citizen(), api.counter()
            d = api.grant(citizen, max_uses=150)
            responses = fire(
                200,
                lambda c, i: c.post(
                    f"{server.base}/v1/submissions",
                    json=submission_body(d["token"], i),
                    headers={**counter, "Idempotency-Key": f"load-{i}"},
                ),
            )
            outcome = Counter(r.status_code for r in responses)
            assert outcome == {201: 150, 409: 50}, outcome
            accepted = {r.json()["id"] for r in responses if r.status_code == 201}
            assert httpx.get(f"{server.base}/v1/audit/checkpoint").status_code == 200

        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as conn:
            seqs = [
                r[0] for r in conn.execute(sa.text("SELECT seq FROM audit_events ORDER BY seq"))
            ]
            events = list(
                conn.execute(
                    sa.text(
                        "SELECT kind, ref, data FROM audit_events WHERE kind LIKE 'submission.%'"
                    )
                )
            )
        engine.dispose()
        assert seqs == list(range(len(seqs)))  # every event sequenced: no gaps, no duplicates
        refs = Counter(ref for kind, ref, _ in events if kind == "submission.accepted")
        assert set(refs) == accepted and set(refs.values()) == {1}
        assert sum(1 for kind, _, _ in events if kind == "submission.refused") == 50
        verified = audit_verify(tmp_path, env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
