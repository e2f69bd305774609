"""The app-wide request body limit: 413 before any route, dependency or body parser sees the body.

Authentication runs as a route dependency, after FastAPI has parsed a JSON body, so without this an
unauthenticated client could make any route buffer and parse a body of any size. The limit is pure ASGI:
a ``Content-Length`` over the limit is refused without reading a byte, a malformed one with 400, and a
body without one (chunked) is counted as it streams and refused as soon as it passes the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmops_kit.http.problems import problem_response

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BodyLimit", "Refusal", "problem_refusal"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A service's largest request body unless it declares its own (ingest's batches take 10 MiB)."""

Refusal = Callable[[Scope, int, str, int], Response]
"""Builds the answer to a refused body from the request's scope, the status (400 or 413), a detail and the limit."""


def problem_refusal(scope: Scope, status: int, detail: str, limit: int) -> Response:
    """The refusal as a problem document (what every service answers unless it has its own error shape)."""
    if status == 413:
        return problem_response(status, "Content Too Large", detail, limit=limit)
    return problem_response(status, "Bad Request", detail)


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` (413) and malformed ``Content-Length`` headers (400)."""

    def __init__(self, app: ASGIApp, max_bytes: int, refusal: Refusal = problem_refusal) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and not declared.isdigit():
            await self.refusal(scope, 400, "Content-Length is not a number", self.max_bytes)(scope, receive, send)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self.refusal(scope, 413, self._detail(), self.max_bytes)(scope, receive, send)
            return
        await _Counted(self, scope, receive, send).run()

    def _detail(self) -> str:
        return f"the request body exceeds {self.max_bytes} bytes"


class _Counted:
    """One request whose body is counted while the app reads it; past the limit the app sees a disconnect."""

    def __init__(self, limit: BodyLimit, scope: Scope, receive: Receive, send: Send) -> None:
        self.limit, self.scope, self.receive, self.send = limit, scope, receive, send
        self.received = 0
        self.refused = False
        self.started = False

    async def run(self) -> None:
        try:
            await self.limit.app(self.scope, self.read, self.write)
        except Exception:
            if not self.refused:
                raise
            # The app failed on the disconnect it was handed: the 413 has answered the request already.

    async def read(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                self.refused = True
                if not self.started:
                    refusal = self.limit.refusal(self.scope, 413, self.limit._detail(), self.limit.max_bytes)
                    await refusal(self.scope, self.receive, self.send)
                return {"type": "http.disconnect"}
        return message

    async def write(self, message: Message) -> None:
        if self.refused:
            return  # the refusal is the answer; whatever the app says after the disconnect goes nowhere
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


def _content_length(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return str(value.decode("latin-1").strip())
    return None
