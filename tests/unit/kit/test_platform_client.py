"""The platform's service-to-service client: headers, pagination, retries, errors, the bound on requests in flight."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from llmops_kit.auth import TENANT_HEADER
from llmops_kit.platform_client import (
    GatewayClient,
    PlatformCallError,
    PlatformClient,
    WarehouseReader,
    gateway_client,
    warehouse_reader,
)
from llmops_kit.settings import ServiceSettings

Handler = Callable[[httpx.Request], httpx.Response]


async def started(handler: Handler, **options: Any) -> PlatformClient:
    client = PlatformClient(
        "warehouse", "http://warehouse/", "svc-key", transport=httpx.MockTransport(handler), **options
    )
    await client.start()
    return client


async def collect(items: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item async for item in items]


async def test_each_request_carries_the_service_key_and_the_tenant() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    client = await started(handler)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert await client.request("GET", "/v1/x", "acme", params={"start": at, "app": None}) == {"ok": True}
    await client.stop()
    [request] = seen
    assert request.headers["Authorization"] == "Bearer svc-key" and request.headers[TENANT_HEADER] == "acme"
    assert dict(request.url.params) == {"start": "2026-01-01T00:00:00+00:00"}


async def test_pages_follow_the_cursor_to_the_end() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor is None:
            return httpx.Response(200, json={"items": [{"n": 1}, {"n": 2}], "next_cursor": "c2"})
        assert cursor == "c2" and request.url.params["limit"] == "2"
        return httpx.Response(200, json={"items": [{"n": 3}], "next_cursor": None})

    reader = WarehouseReader(await started(handler))
    assert await collect(reader.client.pages("/v1/calls", "acme", page_size=2)) == [{"n": 1}, {"n": 2}, {"n": 3}]


async def test_a_missing_call_is_none_and_other_errors_raise_with_the_problem_detail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"detail": "no call with id 'gone'"})
        return httpx.Response(422, json={"title": "Unprocessable", "detail": "app: too long"})

    reader = WarehouseReader(await started(handler))
    assert await reader.call("acme", "gone") is None
    with pytest.raises(PlatformCallError, match="warehouse answered 422: app: too long") as caught:
        await collect(reader.events("acme", "feedback", call_id="c"))
    assert not caught.value.retryable


async def test_unavailable_answers_are_retried_a_bounded_number_of_times() -> None:
    statuses = iter([503, 429, 200])
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        status = next(statuses)
        return httpx.Response(status, json={"items": []} if status == 200 else {"detail": "busy"})

    client = await started(handler, attempts=3)
    assert await client.request("GET", "/v1/x", "acme") == {"items": []}
    assert calls == 3

    down = await started(lambda _: httpx.Response(503, json={"detail": "down"}), attempts=2)
    with pytest.raises(PlatformCallError, match="503: down") as caught:
        await down.request("GET", "/v1/x", "acme")
    assert caught.value.retryable


async def test_no_answer_at_all_is_a_retryable_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = await started(handler, attempts=1)
    with pytest.raises(PlatformCallError, match="unreachable: ConnectError") as caught:
        await client.request("GET", "/v1/x", "acme")
    assert caught.value.status == 0 and caught.value.retryable


async def test_requests_in_flight_are_bounded() -> None:
    in_flight = peak = 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return httpx.Response(200, json={})

    client = PlatformClient("gateway", "http://gw", "k", max_in_flight=2, transport=httpx.MockTransport(handler))
    await client.start()
    tasks = [asyncio.create_task(client.request("GET", "/v1/x", "acme")) for _ in range(5)]
    while in_flight < 2:
        await asyncio.sleep(0)
    for _ in range(20):  # give the other three every chance to (wrongly) start
        await asyncio.sleep(0)
    assert peak == 2
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 2


async def test_the_gateway_client_speaks_the_openai_api() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/v1/embeddings":
            assert body == {"model": "embedder", "input": ["a", "b"]}
            data = [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]
            return httpx.Response(200, json={"data": data})
        assert request.url.path == "/v1/chat/completions" and body["model"] == "judge"
        return httpx.Response(200, json={"choices": [{"message": {"content": "Score: 4/5"}}]})

    gateway = GatewayClient(await started(handler))
    assert await gateway.embeddings("acme", "embedder", ["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]
    answer = await gateway.chat("acme", {"model": "judge", "messages": []})
    assert answer["choices"][0]["message"]["content"] == "Score: 4/5"


async def test_an_unstarted_client_says_so() -> None:
    client = PlatformClient("warehouse", "http://w", "k")
    with pytest.raises(RuntimeError, match="not started"):
        await client.request("GET", "/v1/x", "acme")


def test_clients_exist_only_when_their_url_and_the_service_key_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMOPS_WAREHOUSE_URL", "http://warehouse:8002")
    settings = ServiceSettings()
    assert warehouse_reader(settings) is None  # no key
    monkeypatch.setenv("LLMOPS_SERVICE_KEY", "svc-secret")
    settings = ServiceSettings()
    reader = warehouse_reader(settings, max_in_flight=4)
    assert reader is not None and reader.client.service == "warehouse"
    assert gateway_client(settings) is None  # no gateway URL
    assert "svc-secret" not in repr(settings)
