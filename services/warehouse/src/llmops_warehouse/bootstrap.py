"""Wiring: the ClickHouse store (migrated at start), the DLQ producer and the consumer loop.

``build_runtime`` is production: ClickHouse, Kafka, the consumer. ``build_query_runtime`` serves the query
API alone over injected :class:`WarehousePorts` (an in-memory store in tests) and creates no Kafka client,
so HTTP tests and the OpenAPI contract test need no broker. Both install what the routes read on
``app.state`` the same way (``store``, and ``api_keys`` for the kit's auth).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseCallStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.migrations import apply_migrations
from llmops_warehouse.ports import CallStore
from llmops_warehouse.threaded_store import ThreadedCallStore

__all__ = ["StoreLifetime", "WarehousePorts", "build_query_runtime", "build_runtime", "open_clickhouse_store"]


def open_clickhouse_store(settings: WarehouseSettings) -> CallStore:
    """Connect to ClickHouse and bring its schema up to date (idempotent)."""
    client = connect(settings.clickhouse_url, settings.clickhouse_user, settings.clickhouse_password.get_secret_value())
    apply_migrations(client, database=settings.database)
    return ClickHouseCallStore(client, settings.database)


@dataclass(frozen=True)
class WarehousePorts:
    """What a test (or an embedding) gives the warehouse instead of ClickHouse and Kafka.

    With ports the app answers queries from ``store`` and starts nothing else: no producer, no consumer,
    no topics, no migrations. ``api_keys`` None loads ``LLMOPS_API_KEYS_FILE`` as production does.
    """

    store: CallStore
    api_keys: ApiKeyStore | None = None


@dataclass
class StoreLifetime:
    """Closes the store's worker thread when the app stops (after the consumer has drained)."""

    store: ThreadedCallStore

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.store.close()


def _install(app: FastAPI, settings: WarehouseSettings, store: ThreadedCallStore, keys: ApiKeyStore | None) -> Runtime:
    """Put the store and the keys where the routes read them; a runtime that owns the store's thread."""
    app.state.store = store
    keys = keys if keys is not None else load_api_keys(settings.api_keys_file)
    checks: dict[str, ReadinessCheck] = {"clickhouse": store.ping, **install_api_keys(app, keys)}
    return Runtime(components=[StoreLifetime(store)], checks=checks)


async def build_runtime(app: FastAPI, settings: WarehouseSettings, store: CallStore | None = None) -> Runtime:
    """Everything the warehouse runs, in start order; ``store`` replaces ClickHouse (the consumer still runs)."""
    # `is None`, not `or`: an empty store is falsy (InMemoryCallStore has __len__).
    threaded = ThreadedCallStore(store if store is not None else open_clickhouse_store(settings))
    producer = EventProducer(settings.kafka_bootstrap_servers, service="warehouse", security=settings.kafka_security)
    consumer = build_consumer(settings, threaded, producer)
    runtime = _install(app, settings, threaded, None)

    async def consumer_ready() -> bool:
        return consumer.ready

    topics = (
        [TopicProvisioner(settings.kafka_bootstrap_servers, [CallRecorded.topic], security=settings.kafka_security)]
        if settings.ensure_topics
        else []
    )
    components: list[Component] = [*runtime.components, *topics, producer, consumer]
    checks = {"kafka": producer.ping, **runtime.checks, "consumer": consumer_ready}
    return Runtime(components=components, checks=checks)


def build_query_runtime(app: FastAPI, settings: WarehouseSettings, ports: WarehousePorts) -> Runtime:
    """The query API alone over ``ports``: the store on its worker thread and the keys; no Kafka at all."""
    return _install(app, settings, ThreadedCallStore(ports.store), ports.api_keys)
