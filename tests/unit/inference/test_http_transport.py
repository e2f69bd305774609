"""The upstream's HTTP transport: one contract for the in-memory fake and the aiohttp adapter, then the
adapter's failures (by kind, naming no URL), pool limit and redirects against real loopback servers.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from llmops_inference.adapters import http_transport
from llmops_inference.adapters.http_transport import (
    AiohttpTransport,
    HttpAnswer,
    HttpRequest,
    HttpTransport,
    Timeouts,
    TransportError,
)
from llmops_inference.adapters.memory import MockTransport, mock_answer

Handler = Callable[[HttpRequest], HttpAnswer]
TIMEOUTS = Timeouts(read_s=5.0, connect_s=5.0)
SSE = "data: a\r\n\ndata: b\n\n"


@asynccontextmanager
async def loopback(handle: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """An aiohttp server on a free loopback port answering every path with ``handle``; yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def started(transport: HttpTransport) -> AsyncIterator[HttpTransport]:
    await transport.start()
    try:
        yield transport
    finally:
        await transport.stop()


@asynccontextmanager
async def fake(handler: Handler) -> AsyncIterator[tuple[HttpTransport, str]]:
    async with started(MockTransport(handler)) as transport:
        yield transport, "http://upstream.test"


@asynccontextmanager
async def real(handler: Handler) -> AsyncIterator[tuple[HttpTransport, str]]:
    """The aiohttp adapter against a loopback server that answers what ``handler`` says."""

    async def handle(request: web.Request) -> web.Response:
        seen = HttpRequest(request.method, str(request.url), request.headers, await request.read())  # type: ignore[arg-type]
        answer = handler(seen)
        return web.Response(status=answer.status, body=answer.content, headers=dict(answer.headers))

    async with loopback(handle) as base, started(AiohttpTransport(max_connections=4)) as transport:
        yield transport, base


TRANSPORTS = pytest.mark.parametrize("make", [fake, real], ids=["fake", "aiohttp"])


@TRANSPORTS
async def test_a_request_arrives_whole_and_its_answer_comes_back(make: Any) -> None:
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest) -> HttpAnswer:
        seen.append(request)
        return mock_answer(201, json_body={"ok": True}, headers={"X-Answer": "yes"})

    async with make(handler) as (transport, base):
        request = HttpRequest("POST", f"{base}/v1/chat/completions", {"Authorization": "Bearer k"}, b'{"a":1}')
        answer = await transport.send(request, TIMEOUTS)
    assert (answer.status, answer.headers.get("x-answer"), answer.content) == (201, "yes", b'{"ok": true}')
    (arrived,) = seen
    headers = {k.lower(): v for k, v in arrived.headers.items()}
    assert (arrived.method, urlsplit(arrived.url).path, arrived.content) == ("POST", "/v1/chat/completions", b'{"a":1}')
    assert headers["authorization"] == "Bearer k"


@TRANSPORTS
async def test_an_error_status_is_an_answer_not_a_failure(make: Any) -> None:
    async with make(lambda r: mock_answer(503, text="busy", headers={"Retry-After": "2"})) as (transport, base):
        answer = await transport.send(HttpRequest("GET", f"{base}/models", {}), TIMEOUTS)
    assert (answer.status, answer.headers.get("retry-after"), answer.content) == (503, "2", b"busy")


@TRANSPORTS
async def test_a_stream_is_read_line_by_line_without_line_breaks(make: Any) -> None:
    async with make(lambda r: mock_answer(200, text=SSE)) as (transport, base):
        request = HttpRequest("POST", f"{base}/v1/completions", {}, b"{}")
        async with transport.stream(request, TIMEOUTS) as answer:
            assert answer.status == 200
            lines = [line async for line in answer.lines()]
    assert lines == ["data: a", "", "data: b", ""]


# -- the aiohttp adapter's failures ------------------------------------------------------------------


async def expect_failure(transport: HttpTransport, url: str, timeouts: Timeouts = TIMEOUTS) -> TransportError:
    with pytest.raises(TransportError) as caught:
        await transport.send(HttpRequest("POST", url, {}, b"{}"), timeouts)
    assert "127.0.0.1" not in str(caught.value)
    return caught.value


async def test_a_refused_connection_is_a_connect_failure() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with started(AiohttpTransport(max_connections=1)) as transport:
        failure = await expect_failure(transport, f"http://127.0.0.1:{port}/v1/x")
    assert failure.kind == "connect"


async def test_an_upstream_slower_than_the_read_timeout_is_a_timeout() -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    async with loopback(slow) as base, started(AiohttpTransport(max_connections=1)) as transport:
        failure = await expect_failure(transport, f"{base}/v1/x", Timeouts(read_s=0.2, connect_s=1.0))
        release.set()
    assert failure.kind == "timeout"


async def test_a_connection_that_breaks_mid_answer_is_a_protocol_failure() -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b"only part of it")
        assert request.transport is not None
        request.transport.close()
        return response

    async with loopback(broken) as base, started(AiohttpTransport(max_connections=1)) as transport:
        failure = await expect_failure(transport, f"{base}/v1/x")
    assert failure.kind == "protocol"


async def test_a_streamed_line_over_the_bound_is_a_protocol_failure() -> None:
    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"data: " + b"x" * (3 * 1024 * 1024) + b"\n\n")

    async with (
        loopback(huge) as base,
        started(AiohttpTransport(max_connections=1)) as transport,
        transport.stream(HttpRequest("POST", f"{base}/v1/x", {}, b"{}"), TIMEOUTS) as answer,
    ):
        with pytest.raises(TransportError) as caught:
            [line async for line in answer.lines()]
    assert (caught.value.kind, caught.value.cause) == ("protocol", "LineTooLong")


@pytest.mark.parametrize("declared", [True, False])
async def test_a_whole_answer_over_the_bound_is_a_protocol_failure(
    monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    monkeypatch.setattr(http_transport, "MAX_ANSWER_BYTES", 1024)

    async def huge(request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            return web.Response(body=b"x" * 1024)  # at the bound: still read whole
        if declared:
            return web.Response(body=b"x" * 4096)
        response = web.StreamResponse()  # chunked: no Content-Length to refuse up front
        await response.prepare(request)
        for _ in range(4):
            await response.write(b"x" * 1024)
        return response

    async with loopback(huge) as base, started(AiohttpTransport(max_connections=1)) as transport:
        failure = await expect_failure(transport, f"{base}/v1/x")
        assert (failure.kind, failure.cause) == ("protocol", "AnswerTooLarge")
        small = await transport.send(HttpRequest("GET", f"{base}/v1/x", {}), TIMEOUTS)
        assert (small.status, len(small.content)) == (200, 1024)


async def test_no_connection_beyond_the_pool_limit_waits_longer_than_the_timeout() -> None:
    """With its one connection held by a stream, a second request is ``unavailable`` after ``read_s``."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=SSE)

    async with loopback(answer) as base, started(AiohttpTransport(max_connections=1)) as transport:
        async with transport.stream(HttpRequest("POST", f"{base}/v1/x", {}, b"{}"), TIMEOUTS):
            failure = await expect_failure(transport, f"{base}/v1/x", Timeouts(read_s=0.1, connect_s=1.0))
        assert failure.kind == "unavailable"
        assert (await transport.send(HttpRequest("GET", f"{base}/v1/x", {}), TIMEOUTS)).status == 200


async def test_redirects_are_answers_never_followed() -> None:
    followed: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        if request.path == "/elsewhere":
            followed.append(request.path)
        return web.Response(status=307, headers={"Location": "/elsewhere"})

    async with loopback(redirect) as base, started(AiohttpTransport(max_connections=1)) as transport:
        answer = await transport.send(HttpRequest("POST", f"{base}/v1/x", {}, b"{}"), TIMEOUTS)
    assert (answer.status, answer.headers.get("location"), followed) == (307, "/elsewhere", [])


async def test_cookies_an_upstream_sets_are_never_sent_back() -> None:
    """The pool is shared by every tenant's calls: a cookie kept from one answer would ride on the next call."""
    cookies: list[str | None] = []

    async def set_cookie(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        return web.Response(text="{}", headers={"Set-Cookie": "session=tenant-a; Path=/"})

    async with loopback(set_cookie) as base, started(AiohttpTransport(max_connections=1)) as transport:
        named = base.replace("127.0.0.1", "localhost")  # aiohttp's default jar ignores cookies of IP hosts
        for _ in range(2):
            await transport.send(HttpRequest("POST", f"{named}/v1/x", {}, b"{}"), TIMEOUTS)
    assert cookies == [None, None]


async def test_the_proxy_named_by_the_environment_is_used_unless_no_proxy_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As httpx did (``trust_env``): an upstream behind an egress proxy keeps working."""
    hosts: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        hosts.append(request.host)
        return web.Response(text="{}")

    async with loopback(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "direct.test")
        async with started(AiohttpTransport(max_connections=1)) as transport:
            answer = await transport.send(HttpRequest("POST", "http://upstream.test/v1/x", {}, b"{}"), TIMEOUTS)
            with pytest.raises(TransportError) as direct:
                await transport.send(HttpRequest("POST", "http://direct.test/v1/x", {}, b"{}"), TIMEOUTS)
    assert (answer.status, hosts, direct.value.kind) == (200, ["upstream.test"], "connect")
