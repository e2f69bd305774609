"""The HTTP seam under the OpenAI-compatible upstream: a small port and its aiohttp adapter.

:class:`~llmops_inference.adapters.openai_upstream.OpenAIUpstream` speaks OpenAI's protocol over an
:class:`HttpTransport`: send one request and get the whole answer, or open a stream and read it line by line.
:class:`AiohttpTransport` is the production adapter (ADR 0010: it costs a fraction of httpx's CPU per call);
tests inject :class:`~llmops_inference.adapters.memory.MockTransport`, and one contract suite runs against both.

Failures of the connection (not error statuses, which are answers) raise :class:`TransportError` with a kind the
upstream maps onto its :class:`~llmops_inference.domain.UpstreamError`, and only the exception's class name as
detail: an aiohttp message can hold the URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from aiohttp.http_exceptions import LineTooLong
from yarl import URL

__all__ = [
    "AiohttpTransport",
    "AnswerStream",
    "HttpAnswer",
    "HttpRequest",
    "HttpStream",
    "HttpTransport",
    "Timeouts",
    "TransportError",
]

MAX_LINE_BYTES = 1024 * 1024
MAX_ANSWER_BYTES = 32 * 1024 * 1024
"""The largest whole (non-streamed) answer read into memory; a bigger one is a ``protocol`` failure."""
"""Longest line of a streamed answer (httpx had no bound; one SSE event of an OpenAI stream is a few hundred)."""
MAX_CACHED_VALUES = 256
"""Bound of the per-value caches (timeouts, proxies by origin): a routes file names a handful."""
TransportFailure = Literal["connect", "timeout", "unavailable", "protocol"]


class TransportError(Exception):
    """The request could not be completed: ``connect`` (never reached the upstream, safe to retry), ``timeout``,
    ``unavailable`` (no free connection in the pool within the timeout) or ``protocol`` (broken connection or
    unparsable HTTP). ``cause`` is an exception class name, never a message.
    """

    def __init__(self, kind: TransportFailure, cause: str) -> None:
        super().__init__(f"{kind} ({cause})")
        self.kind: TransportFailure = kind
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Timeouts:
    """``read_s`` bounds each wait for the upstream (a free connection, sending, every read), ``connect_s``
    opening a connection: httpx's ``Timeout(read_s, connect=connect_s)``, which the gateway used before.
    """

    read_s: float
    connect_s: float


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request; ``url`` is absolute (the upstream joins its configured base URL and a fixed path)."""

    method: Literal["GET", "POST"]
    url: str
    headers: Mapping[str, str]
    content: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A whole answer; look ``headers`` up by lower-case name (aiohttp's are case-insensitive)."""

    status: int
    headers: Mapping[str, str]
    content: bytes


class HttpStream(Protocol):
    """An answer being received: its status and headers, then either ``read()`` or ``lines()``."""

    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes:
        """The rest of the body."""
        ...

    def lines(self) -> AsyncIterator[str]:
        """The body line by line (UTF-8, without the line break), as it arrives."""
        ...


class AnswerStream:
    """An :class:`HttpStream` over a whole answer already at hand (a fake's, or one a translating transport
    built itself), its body handed over line by line."""

    def __init__(self, answer: HttpAnswer) -> None:
        self.status = answer.status
        self.headers = answer.headers
        self._content = answer.content

    async def read(self) -> bytes:
        return self._content

    async def lines(self) -> AsyncIterator[str]:
        for line in self._content.decode("utf-8", errors="replace").splitlines():
            yield line


class HttpTransport(Protocol):
    """Sends requests over a pool of at most ``max_connections`` connections that lives from ``start`` to
    ``stop``; never follows redirects. Raises :class:`TransportError` (nothing else) for connection failures.
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpAnswer:
        """The whole answer, whatever its status."""
        ...

    def stream(self, request: HttpRequest, timeouts: Timeouts) -> AbstractAsyncContextManager[HttpStream]:
        """The answer as it arrives; the connection goes back to the pool when the context exits."""
        ...


class AiohttpTransport:
    """:class:`HttpTransport` over one ``aiohttp.ClientSession`` (uvloop-friendly, C-accelerated parser).

    A semaphore of ``max_connections`` permits stands in front of the connector (whose limit is the same), so
    waiting for a free connection is bounded by ``Timeouts.read_s`` and reported as ``unavailable``, as httpx's
    pool timeout was; aiohttp itself cannot tell that wait from a slow connect. Idle connections are kept
    ``keepalive_s`` (httpx: 5 s). ``HTTP(S)_PROXY``/``NO_PROXY`` are honoured as httpx did, looked up once per
    origin (aiohttp's ``trust_env`` would read the environment on every request).
    """

    def __init__(self, *, max_connections: int, keepalive_s: float = 5.0) -> None:
        self._max_connections = max_connections
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._permits = asyncio.Semaphore(max_connections)
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    async def start(self) -> None:
        self._permits = asyncio.Semaphore(self._max_connections)  # bound to the loop that runs the lifespan
        self._proxies = {}  # the environment as of this start
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive_s)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            # No cookies kept: httpx's client kept them, so one tenant's call could carry a cookie an upstream set
            # on another's; an API upstream has no use for them.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpAnswer:
        # The stream's steps without its context manager: this is the path of every non-streamed call.
        session = self._started_session()
        await self._acquire(timeouts.read_s)
        try:
            response = await self._open(session, request, timeouts)
            try:
                return HttpAnswer(response.status, response.headers, await _AiohttpStream(response).read())
            finally:
                response.release()
        finally:
            self._permits.release()

    @asynccontextmanager
    async def stream(self, request: HttpRequest, timeouts: Timeouts) -> AsyncIterator[HttpStream]:
        session = self._started_session()
        await self._acquire(timeouts.read_s)
        try:
            response = await self._open(session, request, timeouts)
            try:
                yield _AiohttpStream(response)
            finally:
                response.release()
        finally:
            self._permits.release()

    def _started_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise TransportError("unavailable", "NotStarted")
        return self._session

    async def _acquire(self, timeout_s: float) -> None:
        if not self._permits.locked():
            await self._permits.acquire()  # free: no timer to arm
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self._permits.acquire()
        except TimeoutError:
            raise TransportError("unavailable", "PoolTimeout") from None

    async def _open(
        self, session: aiohttp.ClientSession, request: HttpRequest, timeouts: Timeouts
    ) -> aiohttp.ClientResponse:
        proxy, proxy_auth = self._proxy(request.url)
        try:
            return await session.request(
                request.method,
                request.url,
                data=request.content or None,
                headers=request.headers,
                timeout=self._client_timeout(timeouts),
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise transport_error(exc) from None

    def _proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The environment's proxy for ``url``'s origin (``scheme://host[:port]``), if any."""
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        found = self._proxies.get(key)
        if found is None:
            try:
                found = get_env_proxy_for_url(URL(key))
            except LookupError:  # none for this scheme, or NO_PROXY names the host
                found = (None, None)
            if len(self._proxies) < MAX_CACHED_VALUES:
                self._proxies[key] = found
        return found

    def _client_timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        """aiohttp's form of ``timeouts``, built once per distinct value (one per route target)."""
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            # ``connect`` covers resolving and connecting (never a wait for the pool: the permit was taken).
            timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.connect_s, sock_read=timeouts.read_s)
            if len(self._timeouts) < MAX_CACHED_VALUES:
                self._timeouts[timeouts] = timeout
        return timeout


class _AiohttpStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        if (self._response.content_length or 0) > MAX_ANSWER_BYTES:
            raise TransportError("protocol", "AnswerTooLarge")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in self._response.content.iter_any():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:  # a body without (or lying about) its length
                    raise TransportError("protocol", "AnswerTooLarge")
                chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise transport_error(exc) from None
        return b"".join(chunks)

    async def lines(self) -> AsyncIterator[str]:
        content = self._response.content
        while True:
            try:
                line = await content.readline(max_line_length=MAX_LINE_BYTES)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise transport_error(exc) from None
            except LineTooLong:
                raise TransportError("protocol", "LineTooLong") from None
            if not line:
                return
            yield line.rstrip(b"\r\n").decode("utf-8", errors="replace")


def transport_error(exc: BaseException) -> TransportError:
    """An aiohttp (or socket) failure by kind, as httpx's classes were mapped before."""
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return TransportError("connect", name)
    if isinstance(exc, TimeoutError):  # aiohttp's socket read timeout is one too
        return TransportError("timeout", name)
    return TransportError("protocol", name)
