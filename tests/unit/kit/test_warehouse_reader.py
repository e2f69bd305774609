"""The kit's warehouse reader against a scripted query API: the tenant header, bounded paging, errors."""

from __future__ import annotations

import httpx
import pytest
from llmops_kit.warehouse import WarehouseError, WarehouseReader, WarehouseUnavailable


def reader(handler: httpx.MockTransport) -> WarehouseReader:
    return WarehouseReader("http://warehouse", "svc-key", transport=handler)


async def test_pages_follow_cursors_up_to_the_bound_and_name_the_tenant() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        start = int(request.url.params.get("cursor", "0"))
        limit = int(request.url.params["limit"])
        items = [{"n": i} for i in range(start, min(start + limit, 2500))]
        nxt = str(start + limit) if start + limit < 2500 else None
        return httpx.Response(200, json={"items": items, "next_cursor": nxt})

    pages = [
        p async for p in reader(httpx.MockTransport(handle)).pages("acme", "/v1/calls", {"app": "x"}, max_items=2200)
    ]
    assert [len(p) for p in pages] == [1000, 1000, 200]
    assert [r.url.params["limit"] for r in seen] == ["1000", "1000", "200"]
    assert {r.headers["X-LLMOps-Tenant"] for r in seen} == {"acme"} and seen[0].url.params["app"] == "x"
    assert seen[0].headers["Authorization"] == "Bearer svc-key" and "cursor" not in seen[0].url.params


@pytest.mark.parametrize(("status", "retry"), [(429, "7"), (503, None), (500, None)])
async def test_busy_or_down_is_unavailable_with_retry_after(status: int, retry: str | None) -> None:
    headers = {"Retry-After": retry} if retry else {}
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json={"detail": "busy"}, headers=headers))
    with pytest.raises(WarehouseUnavailable) as raised:
        await reader(transport).page("acme", "/v1/calls", {})
    assert raised.value.retry_after_s == (int(retry) if retry else 1) and "busy" in str(raised.value)


async def test_a_refusal_or_no_answer() -> None:
    refused = httpx.MockTransport(lambda _: httpx.Response(422, json={"detail": "app: no such filter"}))
    with pytest.raises(WarehouseError) as raised:
        await reader(refused).page("acme", "/v1/events/feedback", {"app": "x"})
    assert not isinstance(raised.value, WarehouseUnavailable) and raised.value.status_code == 422

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(WarehouseUnavailable):
        await reader(httpx.MockTransport(down)).page("acme", "/v1/calls", {})
