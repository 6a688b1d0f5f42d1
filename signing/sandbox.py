"""Verification of untrusted PDFs in worker processes, with a time limit.

A hostile PDF can make a parser spin or recurse for a long time; a thread cannot be stopped, a
process can. Each verification runs in a small process pool shared by the whole server
process; past the deadline the worker is killed and replaced, and the caller gets an error
instead of a hung request.
"""

from __future__ import annotations

import io
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cryptography import x509


class PdfTooComplex(Exception):
    """The PDF took longer to check than allowed, or crashed its checker."""


def _verify_in_worker(
    pdf: bytes, roots_pem: bytes, crls: list[bytes], mode: str
) -> list[dict[str, Any]]:
    from signing.pades import PadesService

    service = PadesService(
        x509.load_pem_x509_certificates(roots_pem) if roots_pem else [], None, None
    )
    return service.verify(io.BytesIO(pdf), extra_crls=crls, revocation_mode=mode)


class VerifierPool:
    def __init__(self, workers: int = 2):
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # "spawn": forking a threaded server process is unsafe.
                self._executor = ProcessPoolExecutor(
                    self._workers, mp_context=multiprocessing.get_context("spawn")
                )
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        for process in list(getattr(broken, "_processes", {}).values()):
            process.kill()
        broken.shutdown(wait=False, cancel_futures=True)

    def verify(
        self, pdf: bytes, roots_pem: bytes, crls: list[bytes], mode: str, timeout_s: float
    ) -> list[dict[str, Any]]:
        pool = self._pool()
        try:
            future = pool.submit(_verify_in_worker, pdf, roots_pem, crls, mode)
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            self._replace(pool)
            raise PdfTooComplex(f"checking the PDF took longer than {timeout_s:g} s") from None
        except BrokenProcessPool:
            self._replace(pool)
            raise PdfTooComplex("the PDF crashed its checker") from None


# One pool per server process, shared by every app instance in it.
VERIFIERS = VerifierPool()
