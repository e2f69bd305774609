"""Local notifier receivers: real HTTP servers on 127.0.0.1 that validate what they get against the committed
JSON Schemas (PagerDuty Events API v2, Slack incoming webhooks, the platform's signed webhook) and answer as
scripted: a status per request, a delay, or never."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema

SCHEMAS = resources.files("llmops_alerting.notifiers") / "schemas"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next scripted status (the last one repeats); ``"hang"`` never answers.
    ``schema_name`` validates every accepted body (a body that fails it is answered 400 and kept in ``invalid``)."""

    script: list[int | str] = field(default_factory=lambda: [202])
    schema_name: str | None = None
    received: list[Received] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    attempts: int = 0
    port: int = 0
    got: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answer(self) -> int | str:
        step = self.script[min(self.attempts, len(self.script) - 1)]
        self.attempts += 1
        return step

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        step = self._answer()
        if step == "hang":
            await asyncio.Event().wait()
        status = int(step)
        if status < 300 and self.schema_name is not None:
            try:
                jsonschema.validate(json.loads(body), schema(self.schema_name))
            except jsonschema.ValidationError as exc:
                self.invalid.append(exc.message)
                status = 400
        if status < 300:
            self.received.append(Received(path, headers, body))
            self.got.set()
        extra = "Retry-After: 1\r\n" if status == 429 else ""
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self
            server.close()

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """Wait until ``count`` bodies were accepted."""
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                self.got.clear()
                await self.got.wait()
        return self.received
