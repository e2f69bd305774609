"""The kit's WarehouseReader (llmops_kit.platform_client) as a bounded HistoryReader against a scripted warehouse
(httpx.MockTransport): paging, the row bound, the tenant header, and how the warehouse's errors come out. The
real warehouse: tests/integration/feedback."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_kit.warehouse import HistoryError, HistoryUnavailable

Handler = Callable[[httpx.Request], httpx.Response]


async def reader(handler: Handler) -> WarehouseReader:
    client = PlatformClient(
        "warehouse", "http://warehouse", "service-key", attempts=1, transport=httpx.MockTransport(handler)
    )
    history = WarehouseReader(client)
    await history.start()
    return history


def pages(total: int, seen: list[httpx.Request]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        start = int(request.url.params.get("cursor", "0"))
        end = min(total, start + int(request.url.params["limit"]))
        items = [{"data": {"n": n}} for n in range(start, end)]
        return httpx.Response(200, json={"items": items, "next_cursor": str(end) if end < total else None})

    return answer


async def test_pages_until_the_last_with_the_service_key_and_the_tenant() -> None:
    seen: list[httpx.Request] = []
    history = await reader(pages(2500, seen))
    read = await history.read("acme", "feedback", {"start": "2026-01-01T00:00:00Z"}, 10_000)
    await history.stop()
    assert [row["data"]["n"] for row in read.rows] == list(range(2500))
    assert read.truncated is False
    assert [r.url.params["limit"] for r in seen] == ["1000", "1000", "1000"]
    assert {r.headers["x-llmops-tenant"] for r in seen} == {"acme"}
    assert {r.headers["authorization"] for r in seen} == {"Bearer service-key"}
    assert seen[0].url.path == "/v1/events/feedback" and seen[0].url.params["start"] == "2026-01-01T00:00:00Z"


async def test_stops_at_max_rows_and_says_more_matched() -> None:
    seen: list[httpx.Request] = []
    history = await reader(pages(2500, seen))
    read = await history.read("acme", "calls", {}, 1200)
    assert len(read.rows) == 1200 and read.truncated is True
    assert [r.url.params["limit"] for r in seen] == ["1000", "201"]
    exact = await history.read("acme", "calls", {}, 2500)
    assert len(exact.rows) == 2500 and exact.truncated is False


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry"),
    [
        (429, {"Retry-After": "9"}, HistoryUnavailable, 9),
        (503, {}, HistoryUnavailable, 5),
        (403, {}, HistoryError, None),
    ],
)
async def test_errors(status: int, headers: dict[str, str], error: type[Exception], retry: int | None) -> None:
    history = await reader(lambda _: httpx.Response(status, headers=headers, json={"detail": "no"}))
    with pytest.raises(error) as raised:
        await history.read("acme", "feedback", {}, 10)
    if retry is not None:
        assert raised.value.retry_after_s == retry  # type: ignore[attr-defined]
    else:
        assert "403 no" in str(raised.value)


async def test_no_answer_is_unavailable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(HistoryUnavailable, match="ConnectError"):
        await (await reader(down)).read("acme", "feedback", {}, 10)
    with pytest.raises(HistoryUnavailable, match="not started"):
        await WarehouseReader(PlatformClient("warehouse", "http://w", "k")).read("acme", "feedback", {}, 10)
