"""Submissions against real server processes: concurrency, idempotency and crash safety."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.fixtures.server import (
    Api,
    free_port,
    running_server,
    submission_body,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def backend(server_backend: tuple[dict[str, str], str]) -> tuple[dict[str, str], str]:
    return server_backend


def db_counts(url: str, delegation_id: str) -> tuple[int, int]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT count(*) FROM submissions WHERE delegation_id = :d"),
                {"d": delegation_id},
            ).scalar_one()
            uses = conn.execute(
                sa.text("SELECT uses FROM delegations WHERE id = :d"), {"d": delegation_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return rows, uses


def fire(n: int, send) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    """n requests released at the same instant, each on its own connection."""
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            return send(client, i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_50_concurrent_submissions_with_3_uses_left(tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    env, url = backend
    with running_server(tmp_path, free_port(), "--workers", "4", env=env) as server:
        api = Api(server.base)
        citizen, counter = api.citizen(), api.counter()
        d = api.grant(citizen, max_uses=3)

        responses = fire(
            50,
            lambda c, i: c.post(
                f"{server.base}/v1/submissions",
                json=submission_body(d["token"], i),
                headers={**counter, "Idempotency-Key": f"burst-{i}"},
            ),
        )
        outcome = Counter((r.status_code, r.json().get("code")) for r in responses)
        assert outcome == {(201, None): 3, (409, "exhausted"): 47}, outcome
        assert db_counts(url, d["id"]) == (3, 3)

        # The same Idempotency-Key 20 times at once: one submission, 20 identical answers.
        d2 = api.grant(citizen, max_uses=5)
        body = submission_body(d2["token"], 7)
        same = fire(
            20,
            lambda c, i: c.post(
                f"{server.base}/v1/submissions",
                json=body,
                headers={**counter, "Idempotency-Key": "same-key"},
            ),
        )
        assert {(r.status_code, r.content) for r in same} == {(201, same[0].content)}
        assert db_counts(url, d2["id"]) == (1, 1)


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    env, url = backend
    port = free_port()
    max_uses = 60
    acknowledged: list[str] = []
    stop = threading.Event()
    with ExitStack() as stack:
        server = stack.enter_context(running_server(tmp_path, port, "--workers", "2", env=env))
        api = Api(server.base)
        citizen, counter = api.citizen(), api.counter()
        d = api.grant(citizen, max_uses=max_uses)

        def hammer(worker: int) -> None:
            with httpx.Client(timeout=10) as client:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    try:
                        r = client.post(
                            f"{server.base}/v1/submissions",
                            json=submission_body(d["token"], i),
                            headers={**counter, "Idempotency-Key": f"w{worker}-{i}"},
                        )
                    except httpx.TransportError:
                        return
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])

        threads = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 15 and time.monotonic() < deadline:  # kill mid-burst
            time.sleep(0.01)
        server.kill()
        stop.set()
        for t in threads:
            t.join()
    assert acknowledged, "no submission was acknowledged before the kill"

    with running_server(tmp_path, port, env=env) as server:
        for submission_id in acknowledged:
            got = httpx.get(f"{server.base}/v1/submissions/{submission_id}", headers=citizen)
            assert got.status_code == 200, f"acknowledged {submission_id} is lost"
        uses = httpx.get(f"{server.base}/v1/delegations/{d['id']}/uses", headers=citizen).json()
        delegation = httpx.get(f"{server.base}/v1/delegations/{d['id']}", headers=citizen).json()
    rows, consumed = db_counts(url, d["id"])
    assert consumed == rows == len(uses) == delegation["uses"] <= max_uses
    assert set(acknowledged) <= {u["submission"] for u in uses}


def test_concurrent_result_uploads_one_wins_the_others_get_409(tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    """Two clerks (or a double click) upload a result for the same dossier at the same instant,
    through two server processes: exactly one is signed and stored, the others get a 409 problem
    (it was an IntegrityError, a 500, on PostgreSQL)."""
    from signing.samples import text_pdf

    env, url = backend
    env = {**env, "UYQUYEN_PDF_PER_SENDER": "8", "UYQUYEN_PDF_WORKERS": "8"}
    with running_server(tmp_path, free_port(), "--workers", "2", env=env) as server:
        api = Api(server.base)
        citizen, counter = api.citizen(), api.counter()
        agency = api.agency()
        d = api.grant(citizen, max_uses=4)
        pdf = text_pdf([b"BT /F1 24 Tf 72 720 Td (KET QUA) Tj ET"])
        for round_ in range(4):
            made = httpx.post(
                f"{server.base}/v1/submissions",
                json=submission_body(d["token"], round_),
                headers={**counter, "Idempotency-Key": f"r-{round_}"},
            )
            assert made.status_code == 201, made.text
            sid = made.json()["id"]
            answers = fire(
                6,
                lambda c, i, sid=sid: c.post(
                    f"{server.base}/v1/submissions/{sid}/result",
                    headers=agency,
                    files={"file": (f"r{i}.pdf", pdf, "application/pdf")},
                ),
            )
            outcome = Counter((r.status_code, r.json().get("code")) for r in answers)
            assert outcome == {(201, None): 1, (409, "already_completed"): 5}, outcome
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM submission_results")).scalar_one()
        engine.dispose()
        assert stored == 4
        assert "Traceback" not in server.log.read_text()
