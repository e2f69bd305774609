"""The generic event read, the origin filters, service keys and the query bounds, over the in-memory store."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.models import CallPage, CallQuery

from tests.unit.warehouse import test_http_api as api
from tests.unit.warehouse.call_store_contract import BASE, make_event, prompt_tombstone, score_event
from tests.unit.warehouse.test_http_api import TENANT_A, TENANT_B, WINDOW, assert_problem, auth

EVENTS = "/v1/events"
keys_file, store, client = api.keys_file, api.store, api.client  # the API tests' fixtures


async def events(client: httpx.AsyncClient, table: str, key: str = "reader_a", **params: Any) -> dict[str, Any]:
    response = await client.get(f"{EVENTS}/{table}", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_generic_read_is_tenant_scoped_filtered_and_paged(
    client: httpx.AsyncClient, store: InMemoryEventStore
) -> None:
    mine = [score_event(TENANT_A, at=BASE + timedelta(seconds=i), call_id=f"call-{i % 2}") for i in range(5)]
    store.insert_events([*mine, score_event(TENANT_B, call_id="call-0")])
    body = await events(client, "evaluation_scores", call_id="call-0")
    assert [item["event_id"] for item in body["items"]] == [str(e.event_id) for e in (mine[4], mine[2], mine[0])]
    assert body["items"][0]["data"]["call_id"] == "call-0" and body["items"][0]["source"] == "//llmops/evaluation"
    first = await events(client, "evaluation_scores", limit=3)
    second = await events(client, "evaluation_scores", limit=3, cursor=first["next_cursor"])
    assert len(first["items"]) == 3 and len(second["items"]) == 2 and second["next_cursor"] is None
    assert (await events(client, "evaluation_scores", key="reader_b"))["items"][0]["tenant_id"] == TENANT_B
    window = await events(client, "evaluation_scores", start=(BASE + timedelta(seconds=3)).isoformat())
    assert len(window["items"]) == 2


async def test_scores_are_read_per_replay(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    replayed = score_event(TENANT_A, replay_id="rp-7")
    store.insert_events([replayed, score_event(TENANT_A, at=BASE + timedelta(seconds=1))])
    body = await events(client, "evaluation_scores", replay_id="rp-7")
    assert [item["event_id"] for item in body["items"]] == [str(replayed.event_id)]
    body = assert_problem(await client.get(f"{EVENTS}/calls?replay_id=rp-7", headers=auth("reader_a")), 422)
    assert "calls cannot be filtered on replay_id" in body["detail"]


async def test_generic_read_shows_delete_markers(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    store.insert_events([prompt_tombstone(TENANT_A, "greeter", 1, offset=3)])
    [marker] = (await events(client, "prompt_versions"))["items"]
    assert (marker["deleted"], marker["data"], marker["record_key"]) == (True, None, f"{TENANT_A}:greeter:1")


async def test_generic_read_refuses_unknown_tables_filters_and_cursors(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get(f"{EVENTS}/nope", headers=auth("reader_a")), 404)
    assert "evaluation_scores" in body["detail"] and "calls" in body["detail"]
    body = assert_problem(await client.get(f"{EVENTS}/budget_events?app=chat", headers=auth("reader_a")), 422)
    assert "budget_events cannot be filtered on app" in body["detail"]
    body = assert_problem(await client.get(f"{EVENTS}/prices?origin=platform", headers=auth("reader_a")), 422)
    assert "origin" in body["detail"]
    assert_problem(await client.get(f"{EVENTS}/alerts?cursor=bogus", headers=auth("reader_a")), 400)


async def test_calls_read_generically_with_origin(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    app_call = make_event(TENANT_A, key_id="app-key", source="//llmops/ingest")
    judge_call = make_event(TENANT_A, origin="platform", key_id="judge-key", source="//llmops/inference")
    store.insert_calls([app_call, judge_call])
    everything = await events(client, "calls")
    assert {item["event_id"] for item in everything["items"]} == {app_call.id, judge_call.id}
    [judge] = (await events(client, "calls", origin="platform"))["items"]
    assert (judge["type"], judge["key_id"], judge["source"]) == (
        "llmops.call.recorded.v2",
        "judge-key",
        "//llmops/inference",
    )
    assert judge["data"]["call_id"] == judge_call.data.call_id and judge["data"]["origin"] == "platform"
    [one] = (await events(client, "calls", call_id=app_call.data.call_id))["items"]
    assert one["event_id"] == app_call.id


async def test_metrics_exclude_platform_calls_unless_asked(
    client: httpx.AsyncClient, store: InMemoryEventStore
) -> None:
    store.insert_calls([make_event(TENANT_A), make_event(TENANT_A, origin="platform")])
    for route in ("/v1/metrics/summary", "/v1/metrics/timeseries"):
        default = await client.get(route, params=WINDOW, headers=auth("reader_a"))
        assert [item["calls"] for item in default.json()["items"]] == [1]
        everything = await client.get(route, params={**WINDOW, "origin": "all"}, headers=auth("reader_a"))
        assert [item["calls"] for item in everything.json()["items"]] == [2]
    listed = await client.get("/v1/calls", params={"origin": "platform"}, headers=auth("reader_a"))
    assert len(listed.json()["items"]) == 1


async def test_a_service_key_reads_the_tenant_it_names(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    store.insert_calls([make_event(TENANT_A), make_event(TENANT_B)])
    named = await client.get("/v1/calls", headers={**auth("service"), "X-LLMOps-Tenant": TENANT_B})
    assert [item["tenant_id"] for item in named.json()["items"]] == [TENANT_B]
    assert_problem(await client.get("/v1/calls", headers=auth("service")), 400)


async def test_a_text_search_spans_at_most_seven_days(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    now = datetime.now(UTC)
    store.insert_calls([make_event(TENANT_A, started_at=now - timedelta(days=d), content="needle") for d in (1, 9)])
    recent = await client.get("/v1/calls", params={"text": "needle"}, headers=auth("reader_a"))
    assert len(recent.json()["items"]) == 1  # the default window is the last 7 days
    params = {"text": "needle", "start": (now - timedelta(days=10)).isoformat(), "end": now.isoformat()}
    body = assert_problem(await client.get("/v1/calls", params=params, headers=auth("reader_a")), 422)
    assert "at most 7 days" in body["detail"]


class BlockingStore(InMemoryEventStore):
    """Holds every call listing until released, to keep queries in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def list_calls(self, q: CallQuery) -> CallPage:
        self.entered.release()
        self.release.wait(timeout=30)
        return super().list_calls(q)


async def test_a_fifth_query_of_one_key_gets_429_while_another_key_is_served(keys_file: Path) -> None:
    blocking = BlockingStore()
    app = create_app(WarehouseSettings(api_keys_file=keys_file), ports=WarehousePorts(store=blocking))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse") as c,
    ):
        held = [asyncio.create_task(c.get("/v1/calls", headers=auth("reader_a"))) for _ in range(4)]
        for _ in range(4):
            assert await asyncio.to_thread(blocking.entered.acquire, True, 10)
        refused = await c.get("/v1/calls", headers=auth("reader_a"))
        body = assert_problem(refused, 429)
        assert refused.headers["retry-after"] == "1" and "at most 4 queries" in body["detail"]
        other = await c.get("/v1/metrics/summary", headers=auth("reader_b"))
        assert other.status_code == 200
        blocking.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 4
        assert (await c.get("/v1/calls", headers=auth("reader_a"))).status_code == 200


async def test_the_erased_calls_route_needs_erasure_read_a_valid_cursor_and_a_ledger(client: httpx.AsyncClient) -> None:
    path = "/v1/erasures/erasure-1/calls"
    service = {**auth("service"), "X-LLMOps-Tenant": TENANT_A}
    assert_problem(await client.get(path, headers=auth("reader_a")), 403)  # an analyst may not
    assert_problem(await client.get(path, params={"cursor": "%%%"}, headers=service), 422)
    assert_problem(await client.get(path, params={"limit": 1001}, headers=service), 422)
    assert_problem(await client.get(path, headers=service), 503)  # the in-memory store keeps no ledger
