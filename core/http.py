"""HTTP plumbing shared by every domain."""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import PROBLEM_JSON
from core.jsonshape import has_control_characters

log = logging.getLogger("uyquyen")


def client_address(request: Any) -> str:
    """The caller's address as TrustedProxies left it (the peer, or a trusted proxy's client)."""
    return request.client.host if request.client else "unknown"


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
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self.in_flight[sender] - 1
            if left:
                self.in_flight[sender] = left
            else:
                del self.in_flight[sender]

        async def send_then_free(message: Message) -> None:
            # The slot is freed as the answer's last byte goes out, not after the app returns:
            # the upload's spooled file is closed after the response (in the thread pool), and
            # a client that waits for each answer must never find its own slot still taken.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_then_free)
        finally:
            release()


class TrustedProxies:
    """The caller's address, from `X-Forwarded-For` only when the connection comes from a
    trusted proxy (UYQUYEN_TRUSTED_PROXIES, loopback by default): the rightmost address that is
    not itself a trusted proxy, and only if it is an IP address. Anything else (a forged chain
    from an untrusted peer, 300 characters of garbage) is ignored: the peer's own address is
    kept, so no header's length or content reaches a throttle key or a column."""

    MAX_HEADER = 1024

    def __init__(self, app: ASGIApp, trusted: list[str]):
        self.app = app
        self.trusted = [ipaddress.ip_network(t.strip(), strict=False) for t in trusted if t.strip()]

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self._is_trusted(client[0]):
            forwarded = [v for k, v in scope["headers"] if k == b"x-forwarded-for"]
            if len(forwarded) == 1 and len(forwarded[0]) <= self.MAX_HEADER:
                hops = [h.strip() for h in forwarded[0].decode("latin-1").split(",")]
                for hop in reversed(hops):
                    try:
                        address = str(ipaddress.ip_address(hop))
                    except ValueError:
                        break  # not an address: trust nothing further left
                    if not self._is_trusted(address):
                        scope = dict(scope, client=(address, 0))
                        break
        await self.app(scope, receive, send)


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
        except ClientDisconnect:
            # An expected client failure (gone, or cut off by a body deadline): one line, and
            # no answer, since nobody is there to read it.
            log.info("client went away during %s %s", scope.get("method"), scope.get("path"))
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
