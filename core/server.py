"""The HTTP/1.1 connection as uvicorn serves it, with the limits a public service needs.

uvicorn (with httptools) buffers request headers without bound and waits for them, and for a
body, forever: a 64 MB header stalled a worker for 7 s, 8 x 32 MB grew it by 370 MB, and 500
connections that send a byte now and then were held open indefinitely. Here, before the parser
sees a byte of it, the request line and headers are counted (size: 431; number of lines: 431),
and timers close a connection whose headers do not arrive within `header_timeout_s` (408), whose
body stops flowing for `body_idle_timeout_s` (408), or whose body takes longer than its
deadline: `body_base_s` plus its length at `body_min_rate` bytes a second (a body trickled one
byte every few seconds never pauses long enough for the idle timer, and held a worker's
connection for ever).
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.errors import PROBLEM_JSON


@cache
def _limits() -> tuple[int, int, float, float, float, int]:
    from core.settings import load_settings

    s = load_settings()
    return (
        s.header_max_bytes,
        s.header_max_count,
        s.header_timeout_s,
        s.body_idle_timeout_s,
        s.body_base_s,
        s.body_min_rate,
    )


UNKNOWN_LENGTH = 2 * 1024 * 1024  # a chunked body's deadline is reckoned for this much


def _problem(status: int, reason: bytes, code: str, detail: str) -> bytes:
    body = json.dumps(
        {
            "type": f"https://uyquyen.hanoi.gov.vn/problems/{code}",
            "title": reason.decode(),
            "status": status,
            "code": code,
            "detail": detail,
        }
    ).encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, reason, PROBLEM_JSON.encode(), len(body))
        + body
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        (
            self._max_bytes,
            self._max_lines,
            self._header_timeout,
            self._body_idle,
            self._body_base,
            self._body_rate,
        ) = _limits()
        self._body_deadline = 0.0
        self._reading_headers = True
        self._header_bytes = 0
        self._header_lines = 0
        self._tail = b""  # the last bytes seen, to find a CRLFCRLF split across reads
        self._timer: asyncio.TimerHandle | None = None

    # -- timers ----------------------------------------------------------------------------
    def _arm(self, seconds: float, why: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, why)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, why: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._header_bytes or (cycle is not None and not cycle.response_started):
            self.transport.write(_problem(408, b"Request Timeout", "request_timeout", why))
        if cycle is not None:
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _refuse(self, detail: str) -> None:
        self._disarm()
        self.transport.write(
            _problem(
                431,
                b"Request Header Fields Too Large",
                "request_header_fields_too_large",
                detail,
            )
        )
        self.transport.close()

    # -- uvicorn's protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._header_timeout, "the request headers did not arrive in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            if self._header_bytes == 0 and self._timer is None:
                # The first byte of the next request on a kept-alive connection.
                self._arm(self._header_timeout, "the request headers did not arrive in time")
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            in_headers = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._header_bytes += in_headers
            self._header_lines += data.count(b"\n", 0, in_headers)
            self._tail = seen[-3:]
            if self._header_bytes > self._max_bytes:
                self._refuse(f"the request line and headers exceed {self._max_bytes} bytes")
                return
            if self._header_lines > self._max_lines + 1:
                self._refuse(f"a request may carry at most {self._max_lines} header fields")
                return
            if end >= 0:
                self._reading_headers = False
        elif self.cycle is not None and self.cycle.more_body:
            self._arm_body()
        super().data_received(data)

    def _arm_body(self) -> None:
        left = self._body_deadline - self.loop.time()
        if left <= self._body_idle:
            self._arm(max(left, 0.0), "the request body is arriving too slowly")
        else:
            self._arm(self._body_idle, "the request body stopped arriving")

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._disarm()
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.more_body and not self.transport.is_closing():
            length = next((v for k, v in self.headers if k.lower() == b"content-length"), None)
            try:
                expected = int(length) if length is not None else UNKNOWN_LENGTH
            except ValueError:
                expected = UNKNOWN_LENGTH
            self._body_deadline = self.loop.time() + self._body_base + expected / self._body_rate
            self._arm_body()

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_headers = True
        self._header_bytes = self._header_lines = 0
        self._tail = b""
        super().on_message_complete()
