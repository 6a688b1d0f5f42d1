"""Untrusted PDFs are parsed in worker processes, one job per process, each with a deadline and
a memory cap.

A hostile PDF (an xref stream that inflates 100 KB to 64 MB, say) can make a parser spin for
minutes and take gigabytes; a thread cannot be stopped, a process can. So every job runs alone
in a worker process whose address space is capped (a bomb ends in MemoryError within a second)
and which is killed at the deadline. Killing it touches no other job: each worker serves one job
at a time and jobs never share a pool that could be shut down under them. A caller may have only
`per_client` jobs in flight, so one sender of hostile files occupies at most that many workers
and the others stay free for everyone else (429 beyond that, 503 when all are busy).

A job may ask the parent a question while it runs (`ask_parent`): signing parses and writes the
PDF in the worker, and asks the parent for the CMS signature over the digest, so private keys
(and HSM sessions) never enter a process that parses untrusted input.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("uyquyen.sandbox")


class PdfTooComplex(Exception):
    """The PDF took longer, or more memory, to process than allowed, or crashed its worker."""


class SandboxBusy(Exception):
    """No worker is free (or this caller already has its share): try again shortly."""

    def __init__(self, detail: str, *, per_client: bool):
        super().__init__(detail)
        self.per_client = per_client


# -- inside a worker process ---------------------------------------------------------------------
_parent: Connection | None = None


def ask_parent(question: Any) -> Any:
    """From inside a job: ask the parent process (see `Sandbox.run(answer=...)`)."""
    assert _parent is not None, "ask_parent() is only for jobs running in a sandbox worker"
    _parent.send(("ask", question))
    kind, value = _parent.recv()
    if kind == "error":
        raise value
    return value


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return super().format(record).replace("\n", " | ")[:500]


def _worker_main(conn: Connection, memory_bytes: int) -> None:
    global _parent
    _parent = conn
    # A MemoryError deep in a parser also fails finalizers on the way out; they would print
    # "Exception ignored" into the server's log.
    sys.unraisablehook = lambda unraisable: None
    # pyHanko logs what it finds wrong in a document with full tracebacks (a tampered or
    # self-signed upload is an expected refusal, reported to the caller): one line each here.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine("%(levelname)s pdf-worker %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        os.nice(5)  # the server process's own requests come first
    except OSError:
        pass
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            outcome: tuple[str, Any] | None = ("ok", fn(*args))
        except MemoryError:
            outcome = None
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            outcome = ("error", exc)
        if outcome is None:
            # Out of the except block, the frames that held the inflated data are gone and
            # there is memory to say so; then start afresh (the heap may be in any state).
            try:
                conn.send(("memory", None))
            finally:
                os._exit(0)
        try:
            conn.send(outcome)
        except Exception:  # an exception or a result that does not pickle
            conn.send(("error", RuntimeError(f"{outcome[0]}: {outcome[1]!r}"[:500])))


# -- in the server process -----------------------------------------------------------------------
class _AnswerFailed(Exception):
    def __init__(self, error: Exception):
        self.error = error


@dataclass
class _Worker:
    process: Any  # multiprocessing.context.SpawnProcess
    conn: Connection

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class Sandbox:
    def __init__(self, max_workers: int = 4, memory_bytes: int = 1 << 30, per_client: int = 1):
        self.max_workers = max_workers
        self.memory_bytes = memory_bytes
        self.per_client = per_client
        self._context = multiprocessing.get_context("spawn")  # forking a threaded server is unsafe
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy = 0  # jobs in flight (for /metrics: `busy`)
        self._in_flight: dict[str, int] = {}
        self.killed = 0  # workers killed at a deadline, by a memory cap or a crash (for /metrics)

    @property
    def busy(self) -> int:
        return self._busy

    def configure(self, max_workers: int, memory_bytes: int, per_client: int) -> None:
        with self._lock:
            self.max_workers, self.memory_bytes, self.per_client = (
                max_workers,
                memory_bytes,
                per_client,
            )

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, self.memory_bytes), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def prewarm(self) -> None:
        """Start one idle worker in the background, so the first upload does not wait for it."""

        def start() -> None:
            with self._lock:
                if self._idle or self._busy:
                    return
            worker = self._spawn()
            with self._lock:
                self._idle.append(worker)

        threading.Thread(target=start, name="sandbox-prewarm", daemon=True).start()

    def _check_out(self, client: str) -> _Worker | None:
        with self._lock:
            if self._in_flight.get(client, 0) >= self.per_client:
                raise SandboxBusy(
                    f"at most {self.per_client} document(s) of one sender are processed at a time",
                    per_client=True,
                )
            if self._busy >= self.max_workers:
                raise SandboxBusy("every document worker is busy", per_client=False)
            self._busy += 1
            self._in_flight[client] = self._in_flight.get(client, 0) + 1
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.conn.close()
            return None

    def _check_in(self, client: str, worker: _Worker | None) -> None:
        with self._lock:
            self._busy -= 1
            left = self._in_flight[client] - 1
            if left:
                self._in_flight[client] = left
            else:
                del self._in_flight[client]
            if worker is not None:
                self._idle.append(worker)

    def run(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        *,
        timeout_s: float,
        client: str,
        answer: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run `fn(*args)` in a worker; `fn` and its arguments must pickle. Exceptions raised by
        `fn` are raised here; a deadline, the memory cap or a crash raise PdfTooComplex."""
        deadline = time.monotonic() + timeout_s
        worker = self._check_out(client)
        healthy: _Worker | None = None
        try:
            if worker is None:
                worker = self._spawn()
            worker.conn.send((fn, args))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not worker.conn.poll(remaining):
                    raise PdfTooComplex(f"processing the PDF took longer than {timeout_s:g} s")
                kind, value = worker.conn.recv()
                if kind == "ask":
                    assert answer is not None, "the job asked a question nobody answers"
                    try:
                        reply = answer(value)
                    except Exception as exc:  # the parent's own failure (a key, a TSA): as is
                        raise _AnswerFailed(exc) from exc
                    worker.conn.send(("answer", reply))
                elif kind == "ok":
                    healthy = worker
                    return value
                elif kind == "error":
                    healthy = worker
                    raise value
                else:  # "memory": the worker has exited
                    raise PdfTooComplex(
                        f"processing the PDF needed more than {self.memory_bytes >> 20} MiB"
                    )
        except _AnswerFailed as failed:
            raise failed.error from None
        except (EOFError, OSError):
            raise PdfTooComplex("the PDF crashed its worker") from None
        finally:
            if healthy is None and worker is not None:
                self.killed += 1
                worker.kill()
            self._check_in(client, healthy)


# One sandbox per server process, shared by every app instance in it (tests build many apps).
SANDBOX = Sandbox()
