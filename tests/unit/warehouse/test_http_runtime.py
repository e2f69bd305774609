"""How the warehouse app is wired: the query-only runtime (no Kafka), readiness, and production's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.consumer import ConsumerLoop
from llmops_kit.kafka.producer import EventProducer
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts, build_runtime
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.retention.wiring import PoliciesFirst

KEY = "llmops_runtime_test_reader_key_00000000001"
KEYS = ApiKeyStore([ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(KEY))])
AUTH = {"Authorization": f"Bearer {KEY}"}


def settings(**overrides: object) -> WarehouseSettings:
    return WarehouseSettings.model_validate({"api_keys_file": None, "ensure_topics": False, **overrides})


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse") as client,
    ):
        yield client


async def test_readyz_follows_the_stores_ping() -> None:
    store = InMemoryEventStore()
    async with running(create_app(settings(), ports=WarehousePorts(store=store, api_keys=KEYS))) as client:
        ready = await client.get("/readyz", headers=AUTH)
        assert (ready.status_code, ready.json()) == (200, {"ready": True, "checks": {"clickhouse": True}})
        store.healthy = False
        down = await client.get("/readyz", headers=AUTH)
        assert (down.status_code, down.json()) == (503, {"ready": False, "checks": {"clickhouse": False}})
        # Liveness does not depend on the store.
        assert (await client.get("/healthz")).status_code == 200
        store.healthy = True
        assert (await client.get("/readyz")).status_code == 200


async def test_ports_with_keys_serve_queries_without_kafka() -> None:
    app = create_app(
        settings(kafka_bootstrap_servers="unreachable.invalid:1"), ports=WarehousePorts(InMemoryEventStore(), KEYS)
    )
    async with running(app) as client:
        response = await client.get("/v1/calls", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}
    assert [type(c) for c in app.state.runtime.components] == [ConcurrentEventStore]


async def test_ports_without_keys_load_the_keys_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"keys:\n  - {{id: r, tenant_id: acme, role: reader, sha256: {hash_key(KEY)}}}\n")
    app = create_app(settings(api_keys_file=keys_file), ports=WarehousePorts(InMemoryEventStore()))
    async with running(app) as client:
        assert (await client.get("/v1/calls", headers=AUTH)).status_code == 200


async def test_without_keys_requests_answer_503_and_the_app_is_not_ready() -> None:
    async with running(create_app(settings(), ports=WarehousePorts(InMemoryEventStore()))) as client:
        response = await client.get("/v1/calls", headers=AUTH)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        ready = await client.get("/readyz", headers=AUTH)
        # No key can be checked without the key file, so even this caller sees no details.
        assert (ready.status_code, ready.json()) == (503, {"ready": False})


async def test_the_app_restarts_with_a_fresh_store_thread() -> None:
    # Schemathesis (and uvicorn reloads) run the lifespan more than once on one app.
    app = create_app(settings(), ports=WarehousePorts(InMemoryEventStore(), KEYS))
    for _ in range(2):
        async with running(app) as client:
            assert (await client.get("/v1/calls", headers=AUTH)).status_code == 200


async def test_production_wiring_still_runs_the_consumer() -> None:
    # Builds (but does not start) the Kafka clients: nothing connects until start().
    app, store = FastAPI(), InMemoryEventStore()
    runtime = await build_runtime(app, settings(), store=store)
    try:
        # The injected store, even an empty one, is what the routes use (ClickHouse is never opened).
        store.healthy = False
        assert await app.state.store.ping() is False
        # The retention policies are materialised before the consumer stores anything (docs/adr/0049).
        components = [ConcurrentEventStore, PoliciesFirst, EventProducer, ConsumerLoop]
        assert [type(c) for c in runtime.components] == components
        assert list(runtime.checks) == ["kafka", "clickhouse", "api_keys", "retention_policies", "consumer"]
    finally:
        for component in reversed(runtime.components):
            await component.stop()
