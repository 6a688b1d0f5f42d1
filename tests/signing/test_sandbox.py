"""The sandbox that parses untrusted PDFs: one job per worker process, a deadline and a memory
cap per job, and a job that is killed never takes another job with it."""

from __future__ import annotations

import threading
import time

import pytest

from signing.sandbox import PdfTooComplex, Sandbox, SandboxBusy
from tests.signing import sandbox_jobs as jobs


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(max_workers=3, memory_bytes=512 << 20, per_client=1)


def test_a_job_runs_in_a_worker_and_its_errors_come_back_as_they_were(sandbox: Sandbox) -> None:
    assert sandbox.run(jobs.sleep_then_answer, (0, "ok"), timeout_s=30, client="a") == "ok"
    with pytest.raises(ValueError, match="bad input"):
        sandbox.run(jobs.fail, ("bad input",), timeout_s=30, client="a")
    assert (
        sandbox.run(jobs.ask, ("yes",), timeout_s=30, client="a", answer=str.upper)
        == "parent said YES"
    )


def test_a_job_past_its_deadline_is_killed_alone(sandbox: Sandbox) -> None:
    sandbox.run(jobs.sleep_then_answer, (0, "warm"), timeout_s=30, client="warm")
    results: dict[str, object] = {}

    def innocent() -> None:
        results["innocent"] = sandbox.run(
            jobs.sleep_then_answer, (1.5, "done"), timeout_s=30, client="b"
        )

    thread = threading.Thread(target=innocent)
    thread.start()
    started = time.monotonic()
    with pytest.raises(PdfTooComplex, match="longer than 0.5 s"):
        sandbox.run(jobs.sleep_then_answer, (60, "never"), timeout_s=0.5, client="a")
    assert time.monotonic() - started < 5
    thread.join()
    assert results["innocent"] == "done"  # the kill did not cancel or break the other job
    assert sandbox.killed == 1
    assert sandbox.run(jobs.sleep_then_answer, (0, "again"), timeout_s=30, client="a") == "again"


def test_a_job_over_the_memory_cap_ends_fast_with_a_clear_reason(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(PdfTooComplex, match="more than 512 MiB"):
        sandbox.run(jobs.allocate, (4096,), timeout_s=60, client="a")
    assert time.monotonic() - started < 20
    assert sandbox.run(jobs.allocate, (64,), timeout_s=60, client="a") == 64


def test_one_sender_gets_one_worker_and_the_others_stay_free(sandbox: Sandbox) -> None:
    thread = threading.Thread(
        target=sandbox.run,
        args=(jobs.sleep_then_answer, (2, "slow")),
        kwargs={"timeout_s": 30, "client": "greedy"},
    )
    thread.start()
    time.sleep(0.5)
    with pytest.raises(SandboxBusy) as busy:
        sandbox.run(jobs.sleep_then_answer, (0, "second"), timeout_s=30, client="greedy")
    assert busy.value.per_client
    assert (
        sandbox.run(jobs.sleep_then_answer, (0, "other"), timeout_s=30, client="polite") == "other"
    )
    thread.join()


def test_when_every_worker_is_busy_the_next_caller_hears_so_at_once() -> None:
    small = Sandbox(max_workers=1, memory_bytes=512 << 20, per_client=1)
    thread = threading.Thread(
        target=small.run,
        args=(jobs.sleep_then_answer, (2, "slow")),
        kwargs={"timeout_s": 30, "client": "a"},
    )
    thread.start()
    time.sleep(0.5)
    with pytest.raises(SandboxBusy) as busy:
        small.run(jobs.sleep_then_answer, (0, "x"), timeout_s=30, client="b")
    assert not busy.value.per_client
    thread.join()
