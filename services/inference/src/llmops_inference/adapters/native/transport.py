"""The native upstreams' seam: an :class:`~llmops_inference.adapters.http_transport.HttpTransport` that speaks a
provider's protocol on the wire and OpenAI's to the :class:`~llmops_inference.adapters.openai_upstream.OpenAIUpstream`
above it (ADR 0018).

The OpenAI adapter builds an OpenAI request (``<base_url>/chat/completions``, a Chat Completions body, the
configured key as a bearer token); a :class:`Dialect` turns it into the provider's URL, headers and body, and
the provider's answer, stream events and errors back into OpenAI's. Everything above the transport (parsing the
answer, error kinds, retries, fallbacks, circuit breakers, recording) is the OpenAI adapter's and the router's,
unchanged. A request the provider cannot do is answered here, without a network call, with OpenAI's 400 naming
the field and the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic_core import to_json

from llmops_inference.adapters.http_transport import (
    AnswerStream,
    HttpAnswer,
    HttpRequest,
    HttpStream,
    HttpTransport,
    Timeouts,
    TransportError,
)
from llmops_inference.adapters.native.common import Unsupported, error_body

__all__ = ["Dialect", "NativeTransport", "ProviderCall", "StreamTranslator"]

JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """The provider's request for one OpenAI request: where to send what."""

    url: str
    body: dict[str, Any] | None
    """None: send the OpenAI body unchanged (an OpenAI-compatible dialect)."""


class StreamTranslator(Protocol):
    """Turns a provider's stream, line by line, into OpenAI chunks (dicts) for one call."""

    def feed(self, line: str) -> list[dict[str, Any]]:
        """The OpenAI chunks this line of the provider's stream completes (often none)."""
        ...

    def close(self) -> list[dict[str, Any]]:
        """The chunks still owed when the provider's stream ended (the usage chunk)."""
        ...


class Dialect(Protocol):
    """One provider's protocol. ``endpoint`` is the OpenAI path the adapter asked for (``chat/completions``,
    ``completions``, ``embeddings``); ``body`` is its OpenAI body, whose ``model`` is the route's upstream model.
    Methods raise :class:`~llmops_inference.adapters.native.common.Unsupported` for what the provider lacks.
    """

    api: str
    """The protocol's name for messages, e.g. ``Anthropic Messages API``."""

    def headers(self, key: str | None) -> dict[str, str]:
        """The provider's authentication (and version) headers for the configured key."""
        ...

    def call(self, base_url: str, endpoint: str, body: dict[str, Any]) -> ProviderCall: ...

    def answer(self, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """A provider's whole answer as OpenAI's ``chat.completion``."""
        ...

    def stream(self, body: dict[str, Any]) -> StreamTranslator: ...

    def error(self, answer: HttpAnswer) -> HttpAnswer:
        """A provider's error answer as OpenAI's status, error body and ``retry-after`` header."""
        ...


class NativeTransport:
    """An :class:`HttpTransport` that translates each request and answer through ``dialect``; ``inner`` sends
    them (the pooled aiohttp transport in production). ``base_url`` is the upstream's configured one: only
    requests under it are translated, and URLs are built from it alone.
    """

    def __init__(self, dialect: Dialect, inner: HttpTransport, base_url: str) -> None:
        self._dialect = dialect
        self._inner = inner
        self._base = base_url.rstrip("/") + "/"

    async def start(self) -> None:
        await self._inner.start()

    async def stop(self) -> None:
        await self._inner.stop()

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpAnswer:
        if request.method == "GET":  # the readiness probe: the same path, the provider's authentication
            return await self._inner.send(self._authenticated(request, request.url, request.content), timeouts)
        prepared = self._prepare(request)
        if isinstance(prepared, HttpAnswer):
            return prepared
        call, body = prepared
        answer = await self._inner.send(self._provider_request(request, call), timeouts)
        if answer.status >= 400:
            return self._dialect.error(answer)
        if call.body is None:
            return answer
        try:
            data = json.loads(answer.content)
        except ValueError:
            return answer  # the OpenAI adapter reports a body that is not JSON
        if not isinstance(data, dict):
            return answer
        with _untranslatable():
            translated = self._dialect.answer(data, body)
        return _json_answer(200, translated, answer.headers)

    def stream(self, request: HttpRequest, timeouts: Timeouts) -> AbstractAsyncContextManager[HttpStream]:
        return self._stream(request, timeouts)

    @asynccontextmanager
    async def _stream(self, request: HttpRequest, timeouts: Timeouts) -> AsyncIterator[HttpStream]:
        prepared = self._prepare(request)
        if isinstance(prepared, HttpAnswer):
            yield AnswerStream(prepared)
            return
        call, body = prepared
        async with self._inner.stream(self._provider_request(request, call), timeouts) as upstream:
            if upstream.status >= 400:
                error = self._dialect.error(HttpAnswer(upstream.status, upstream.headers, await upstream.read()))
                yield AnswerStream(error)
            elif call.body is None:
                yield upstream
            else:
                yield _TranslatedStream(upstream, self._dialect.stream(body))

    def _prepare(self, request: HttpRequest) -> tuple[ProviderCall, dict[str, Any]] | HttpAnswer:
        """The provider call for an OpenAI request, or the 400 answer refusing it."""
        endpoint = request.url[len(self._base) :] if request.url.startswith(self._base) else ""
        try:
            body = json.loads(request.content)
        except ValueError:
            body = None
        if not endpoint or not isinstance(body, dict):
            return _json_answer(400, error_body("the request could not be translated", "invalid_request_error"))
        try:
            return self._dialect.call(self._base.rstrip("/"), endpoint, body), body
        except Unsupported as refused:
            message = refused.message(str(body.get("model")), self._dialect.api)
            return _json_answer(
                400, error_body(message, "invalid_request_error", param=refused.field, code="unsupported_parameter")
            )

    def _provider_request(self, request: HttpRequest, call: ProviderCall) -> HttpRequest:
        content = request.content if call.body is None else to_json(call.body)
        return self._authenticated(request, call.url, content)

    def _authenticated(self, request: HttpRequest, url: str, content: bytes) -> HttpRequest:
        """The OpenAI adapter's bearer token (the configured key) moved to the provider's header."""
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        headers = {name: value for name, value in request.headers.items() if name != "Authorization"}
        return HttpRequest(request.method, url, {**headers, **self._dialect.headers(key)}, content)


@contextmanager
def _untranslatable() -> Iterator[None]:
    """A provider answer of an unexpected shape is a protocol failure of the upstream (as unparsable JSON is),
    not a bug of the gateway: the OpenAI adapter reports it as ``protocol`` (falls back, counts in the breaker)."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError):
        raise TransportError("protocol", "UntranslatableAnswer") from None


def _json_answer(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> HttpAnswer:
    kept = {k.lower(): v for k, v in (headers or {}).items() if k.lower() == "retry-after"}
    return HttpAnswer(status, {**JSON_HEADERS, **kept}, to_json(body))


class _TranslatedStream:
    """The provider's event stream as OpenAI's: ``data: <chunk>`` lines, then ``data: [DONE]``."""

    def __init__(self, upstream: HttpStream, translator: StreamTranslator) -> None:
        self.status = upstream.status
        self.headers = upstream.headers
        self._upstream = upstream
        self._translator = translator

    async def read(self) -> bytes:
        return await self._upstream.read()

    async def lines(self) -> AsyncIterator[str]:
        async for line in self._upstream.lines():
            with _untranslatable():
                events = self._translator.feed(line)
            for event in events:
                yield "data: " + to_json(event).decode()
        for event in self._translator.close():
            yield "data: " + to_json(event).decode()
        yield "data: [DONE]"
