"""HTTP plumbing shared by every domain."""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import PROBLEM_JSON
from core.jsonshape import has_control_characters

log = logging.getLogger("uyquyen")


async def send_problem(
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A problem+json answer from ASGI middleware (before or outside FastAPI's handlers)."""
    body = json.dumps(
        {
            "type": f"https://uyquyen.hanoi.gov.vn/problems/{code}",
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RejectControlCharacters:
    """NUL and other control characters in a path or query string are refused here, once, for
    every route: they name nothing, and PostgreSQL cannot even compare text with a NUL."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"")
            if has_control_characters(scope["path"]) or (
                b"%" in query and has_control_characters(unquote_plus(query.decode("latin-1")))
            ):
                await send_problem(
                    send,
                    400,
                    "control_characters",
                    "Control characters in the URL",
                    "the path or query string contains a control character (such as %00)",
                )
                return
        await self.app(scope, receive, send)


class UploadsPerSender:
    """At most `limit` requests to the upload paths in flight per sender address, refused (429)
    before their body is read: a sender of hostile PDFs in a loop then costs its own share, and
    each refusal costs the server a header parse, not the parse of a multipart upload."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...], limit: int):
        self.app = app
        self.prefixes = prefixes
        self.limit = limit
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not any(
                scope["path"].startswith(p)
                and scope["path"].endswith(("/pdf", "/verify", "/result"))
                for p in self.prefixes
            )
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        sender = client[0] if client else "unknown"
        if self.in_flight.get(sender, 0) >= self.limit:
            await send_problem(
                send,
                429,
                "too_many_concurrent_documents",
                "Too many documents in progress",
                f"at most {self.limit} document(s) of one sender are processed at a time",
                [(b"retry-after", b"1")],
            )
            return
        self.in_flight[sender] = self.in_flight.get(sender, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight[sender] - 1
            if left:
                self.in_flight[sender] = left
            else:
                del self.in_flight[sender]


class CatchUnexpected:
    """The last line: an unexpected exception becomes one logged traceback and a 500 problem,
    and the connection stays open (Starlette's own error middleware re-raises, and the server
    then drops the keep-alive connection)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            await send_problem(
                send,
                500,
                "internal_error",
                "Internal error",
                "the service failed; it has been logged",
            )


class BodySizeLimit:
    """Refuse request bodies over a limit before they are buffered: by Content-Length when
    given, and by counting streamed bytes otherwise. Paths may have their own, larger limit
    (file uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    def _limit(self, path: str) -> int:
        for prefix, limit in self.per_path.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send, limit)
                    return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer now and tell the app the client went away; whatever it then
                    # tries to send is dropped.
                    refused = True
                    await self._refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        await send_problem(
            send,
            413,
            "payload_too_large",
            "Payload too large",
            f"the request body exceeds {limit} bytes",
            [(b"connection", b"close")],
        )
