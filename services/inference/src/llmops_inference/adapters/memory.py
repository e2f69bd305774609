"""In-memory adapters for tests and local experiments: a scriptable backend and an HTTP transport (the publisher fake
is the kit's)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from llmops_inference.adapters.http_transport import (
    AnswerStream,
    HttpAnswer,
    HttpRequest,
    HttpStream,
    Timeouts,
    TransportError,
)
from llmops_inference.domain import Delta, Embeddings, Generation, GenerationRequest, Usage
from llmops_inference.routing_table import Target

__all__ = ["FakeBackend", "MockTransport", "mock_answer"]


@dataclass
class FakeBackend:
    """A :class:`~llmops_inference.ports.Backend` that answers ``reply`` split into ``chunks`` pieces.

    ``failures`` are raised, one per attempt, before answering; ``stream_failure`` is raised after the first
    streamed piece (an :class:`UpstreamError`, or any other exception to play a buggy adapter). Every request
    is kept in ``requests`` with the target it was sent to.
    """

    name: str = "fake"
    reply: str = "Hello from the fake backend."
    chunks: int = 3
    finish_reason: str = "stop"
    usage: Usage | None = field(default_factory=lambda: Usage(5, 7))
    failures: list[BaseException] = field(default_factory=list)
    stream_failure: BaseException | None = None
    healthy: bool = True
    dimensions: int = 4
    requests: list[tuple[GenerationRequest | list[str], Target]] = field(default_factory=list)
    started: bool = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def _attempt(self, request: GenerationRequest | list[str], target: Target) -> None:
        self.requests.append((request, target))
        if self.failures:
            raise self.failures.pop(0)

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        self._attempt(request, target)
        return Generation(text=self.reply, finish_reason=self.finish_reason, usage=self.usage)

    async def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        self._attempt(request, target)
        size = max(1, -(-len(self.reply) // self.chunks))
        pieces = [self.reply[i : i + size] for i in range(0, len(self.reply), size)] or [""]
        for index, piece in enumerate(pieces):
            if index == 1 and self.stream_failure is not None:
                raise self.stream_failure
            yield Delta(text=piece)
        yield Delta(finish_reason=self.finish_reason, usage=self.usage)

    async def embed(self, texts: list[str], target: Target, dimensions: int | None) -> Embeddings:
        self._attempt(list(texts), target)
        size = dimensions or self.dimensions
        vectors = [[float(len(text) % 7) / 7 + i / size for i in range(size)] for text in texts]
        return Embeddings(vectors=vectors, prompt_tokens=sum(max(1, len(t) // 4) for t in texts))

    async def probe(self) -> bool:
        return self.healthy


def mock_answer(
    status: int, *, json_body: Any = None, text: str = "", headers: Mapping[str, str] | None = None
) -> HttpAnswer:
    """An answer for :class:`MockTransport`: ``json_body`` (encoded) or ``text``; header names lower-cased."""
    content = json.dumps(json_body).encode() if json_body is not None else text.encode()
    return HttpAnswer(status, {k.lower(): v for k, v in (headers or {}).items()}, content)


class MockTransport:
    """An :class:`~llmops_inference.adapters.http_transport.HttpTransport` whose answers come from
    ``handler(request)``; the handler raises :class:`TransportError` to play a failed connection. A stream
    hands the answer's body over line by line. ``requests`` keeps every request sent.
    """

    def __init__(self, handler: Callable[[HttpRequest], HttpAnswer]) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpAnswer:
        if not self.started:
            raise TransportError("unavailable", "NotStarted")
        self.requests.append(request)
        return self._handler(request)

    @asynccontextmanager
    async def stream(self, request: HttpRequest, timeouts: Timeouts) -> AsyncIterator[HttpStream]:
        yield AnswerStream(await self.send(request, timeouts))
