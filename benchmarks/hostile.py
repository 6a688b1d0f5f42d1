"""An innocent user's latency while hostile requests are in flight.

One server (SQLite, one worker). An innocent client, one request at a time, measures its
latency for a PDF verification and a delegation verification, first on a quiet server, then
while an attacker process (another address, per X-Forwarded-For from the loopback proxy) keeps
four decompression-bomb PDFs in flight, holds 200 slowloris connections, and guesses client
secrets. The ratio hostile / quiet of the median and the p99 is the row.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Row
from benchmarks.http_load import ADMIN, _server, _tree
from tests.fixtures.pdfs import simple_pdf, xref_bomb

TARGET = 3.0  # "a small multiple" of the quiet latency


def _attack(base: str, stop: Any) -> None:
    # The attacker has a core of its own (as it would have a machine of its own), so that what
    # is measured is what its requests cost the server, not what its loops cost the client.
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[-1]})
    bomb = xref_bomb()
    host, port = base.removeprefix("http://").split(":")

    def bombs() -> None:
        with httpx.Client(timeout=60, headers={"X-Forwarded-For": "203.0.113.66"}) as c:
            while not stop.is_set():
                resp = c.post(f"{base}/v1/signatures/pdf/verify", files={"file": ("b.pdf", bomb)})
                if resp.status_code == 429:  # kept in flight: retried when the server says
                    time.sleep(float(resp.headers.get("retry-after", "1")))

    def guesses() -> None:
        with httpx.Client(timeout=60, headers={"X-Forwarded-For": "203.0.113.67"}) as c:
            n = 0
            while not stop.is_set():
                n += 1
                resp = c.post(
                    f"{base}/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(f"ctr_guess{n}", "wrong"),
                )
                if resp.status_code == 429:
                    time.sleep(float(resp.headers.get("retry-after", "1")))

    def slowloris() -> None:
        socks: list[socket.socket] = []
        while not stop.is_set():
            while len(socks) < 200:
                s = socket.create_connection((host, int(port)))
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            time.sleep(0.5)
            for s in socks:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    s.close()
            socks = [s for s in socks if s.fileno() != -1]
        for s in socks:
            s.close()

    threads = [threading.Thread(target=bombs) for _ in range(4)]
    threads += [threading.Thread(target=guesses), threading.Thread(target=slowloris)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _latencies(send: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        resp = send()
        out.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, resp.text
    return out


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def run(quick: bool) -> list[Row]:
    n = 30 if quick else 100
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        with _server(Path(tmp_name), 1, None) as (proc, base, _data):
            cores = sorted(os.sched_getaffinity(0))
            if len(cores) > 1:  # the server (and the PDF workers it spawns) on the first core
                for pid in _tree(proc.pid):
                    os.sched_setaffinity(pid, {cores[0]})
            admin = {"Authorization": f"Bearer {ADMIN}"}
            agency = httpx.post(f"{base}/v1/agencies/STP-HN/clients", headers=admin).json()
            token = httpx.post(
                f"{base}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(agency["client_id"], agency["client_secret"]),
            ).json()["access_token"]
            signed = httpx.post(
                f"{base}/v1/signatures/pdf",
                headers={"Authorization": f"Bearer {token}"},
                data={"level": "B-B"},
                files={"file": ("a.pdf", simple_pdf())},
                timeout=30,
            ).content
            innocent = httpx.Client(timeout=60, headers={"X-Forwarded-For": "198.51.100.7"})
            probes = {
                "PDF verification": lambda: innocent.post(
                    f"{base}/v1/signatures/pdf/verify", files={"file": ("ok.pdf", signed)}
                ),
                "delegation verify": lambda: innocent.post(
                    f"{base}/v1/delegations/verify", json={"token": "not-a-token"}
                ),
            }
            quiet = {name: _latencies(send, n) for name, send in probes.items()}
            stop = multiprocessing.get_context("spawn").Event()
            attacker = multiprocessing.get_context("spawn").Process(
                target=_attack, args=(base, stop)
            )
            attacker.start()
            time.sleep(2)  # the attack is in full swing
            try:
                hostile = {name: _latencies(send, n) for name, send in probes.items()}
            finally:
                stop.set()
                attacker.join(60)
                if attacker.is_alive():
                    attacker.kill()
            innocent.close()
    for name in probes:
        q50, h50 = statistics.median(quiet[name]), statistics.median(hostile[name])
        q99, h99 = _p99(quiet[name]), _p99(hostile[name])
        spread = f"quiet p50 {q50:.1f} / p99 {q99:.1f} ms; hostile p99 {h99:.1f} ms"
        rows.append(
            Row(
                "hostile load",
                f"{name}: innocent p50 under attack",
                h50,
                "ms",
                spread,
                "same request, quiet server",
                h50 / q50,
                f"<= {TARGET:g}x",
                h50 / q50 <= TARGET,
                {"quiet_ms": quiet[name], "hostile_ms": hostile[name]},
            )
        )
    return rows
