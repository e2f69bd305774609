"""Wiring: the ClickHouse store (migrated at start), the DLQ producer and the consumer loop.

``build_runtime`` is production: ClickHouse, Kafka, the consumer. ``build_query_runtime`` serves the query
API alone over injected :class:`WarehousePorts` (an in-memory store in tests) and creates no Kafka client,
so HTTP tests and the OpenAPI contract test need no broker. Both install what the routes read on
``app.state`` the same way (``store``, ``query_limiter``, and ``api_keys`` for the kit's auth).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime
from llmops_kit.http.limits import InFlightLimiter
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog

from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer, warehouse_topics
from llmops_warehouse.erasure.clickhouse import ClickHouseErasures
from llmops_warehouse.erasure.eraser import Eraser
from llmops_warehouse.erasure.http import ERASURES
from llmops_warehouse.erasure.ledger import Ledger
from llmops_warehouse.erasure.purge import PurgeBound
from llmops_warehouse.erasure.subjects import SubjectDigester
from llmops_warehouse.migrations import apply_migrations
from llmops_warehouse.ports import EventStore
from llmops_warehouse.retention.expiry import Retention
from llmops_warehouse.retention.policies import RetentionPolicies
from llmops_warehouse.retention.wiring import retention_materializer, retention_restamper
from llmops_warehouse.tables import TABLES, EventTable, tables_by_name

__all__ = ["WarehousePorts", "build_query_runtime", "build_runtime", "open_clickhouse_store"]

log = logging.getLogger(__name__)


def open_clickhouse_store(settings: WarehouseSettings, retention: Retention | None = None) -> EventStore:
    """Connect to ClickHouse and bring its schema up to date (idempotent).

    The store writes on one client and reads on a client per reader thread, each query limited to
    ``query_timeout_s`` on the server (``max_execution_time``); ``retention`` stamps each row's expiry.
    """

    def client() -> object:
        password = settings.clickhouse_password.get_secret_value()
        return connect(settings.clickhouse_url, settings.clickhouse_user, password, native_codec=settings.native_codec)

    writer = client()
    apply_migrations(writer, database=settings.database)
    read_settings = {"max_execution_time": settings.query_timeout_s, "max_threads": settings.query_max_threads}
    return ClickHouseEventStore(
        writer, settings.database, reader=client, read_settings=read_settings, retention=retention
    )


@dataclass(frozen=True)
class WarehousePorts:
    """What a test (or an embedding) gives the warehouse instead of ClickHouse and Kafka.

    With ports the app answers queries from ``store`` and starts nothing else: no producer, no consumer,
    no topics, no migrations. ``api_keys`` None loads ``LLMOPS_API_KEYS_FILE`` as production does.
    """

    store: EventStore
    api_keys: ApiKeyStore | None = None
    tables: Sequence[EventTable] = TABLES
    """The event tables the generic read serves (the store must know them too)."""
    retention: Retention | None = None
    """What ``GET /v1/retention`` shows (None: the configured defaults, no policies)."""


def _install(
    app: FastAPI,
    settings: WarehouseSettings,
    store: EventStore,
    keys: ApiKeyStore | None,
    tables: Sequence[EventTable] = TABLES,
    retention: Retention | None = None,
) -> Runtime:
    """Put the store, the tables, the query limiter and the keys where the routes read them; a runtime that
    owns the store's threads (stopped last, after the consumer has drained)."""
    concurrent = ConcurrentEventStore(store, read_workers=settings.query_workers)
    app.state.store = concurrent
    if isinstance(store, ClickHouseEventStore):
        setattr(app.state, ERASURES, ClickHouseErasures(store.database, store.writing, store.read))
    app.state.tables = tables_by_name(tables)
    app.state.retention = retention or Retention(defaults=settings.retention_days)
    app.state.query_limiter = InFlightLimiter(settings.max_queries_per_key, what="queries")
    if keys is None and settings.api_keys_file is not None:  # the query API alone: the file's keys, no Kafka
        keys = ApiKeyStore.from_file(settings.api_keys_file)
    checks: dict[str, ReadinessCheck] = {"clickhouse": concurrent.ping, **install_api_keys(app, keys)}
    return Runtime(components=[concurrent], checks=checks)


async def build_runtime(app: FastAPI, settings: WarehouseSettings, store: EventStore | None = None) -> Runtime:
    """Everything the warehouse runs, in start order: ClickHouse (or ``store``), the topics, the DLQ producer,
    the consumer."""
    retention = Retention(RetentionPolicies(), settings.retention_days)
    restamp = [] if store is not None else [retention_restamper(settings, retention)]
    # `is None`, not `or`: an empty store is falsy (InMemoryEventStore has __len__).
    store = store if store is not None else open_clickhouse_store(settings, retention)
    runtime = _install(app, settings, store, load_api_keys(settings), retention=retention)
    policies = retention_materializer(settings, retention)
    producer = EventProducer(settings.kafka_bootstrap_servers, service="warehouse", security=settings.kafka_security)
    eraser = _eraser(settings, app.state.store, getattr(app.state, ERASURES, None), producer)
    consumer = build_consumer(settings, app.state.store, producer, eraser=eraser)

    async def consumer_ready() -> bool:
        return consumer.ready

    topics = (
        [
            TopicProvisioner(
                settings.kafka_bootstrap_servers,
                warehouse_topics(TopicCatalog.load()),
                security=settings.kafka_security,
            )
        ]
        if settings.ensure_topics
        else []
    )
    eraser_part = [eraser] if eraser else []
    components: list[Component] = [*runtime.components, *topics, policies, *restamp, producer, *eraser_part, consumer]
    checks = {
        "kafka": producer.ping,
        **runtime.checks,
        "retention_policies": policies.check,
        "consumer": consumer_ready,
    }
    return Runtime(components=components, checks=checks)


def _eraser(
    settings: WarehouseSettings,
    store: ConcurrentEventStore,
    erasures: ClickHouseErasures | None,
    producer: EventProducer,
) -> Eraser | None:
    """The eraser over ClickHouse (None over another store: erasure needs the ledger's tables)."""
    if erasures is None:
        return None
    if settings.erasure_key is None:
        log.warning("WAREHOUSE_ERASURE_KEY is unset: the erasure ledger uses the development key")
    ledger = Ledger(SubjectDigester(settings.erasure_key_bytes()))
    purge = PurgeBound.of(TopicCatalog.load(), timedelta(seconds=settings.erasure_merge_bound_s))
    skew = timedelta(seconds=settings.erasure_skew_s)
    return Eraser(store, erasures, ledger, producer, purge, skew=skew, refresh_s=settings.erasure_refresh_s)


def build_query_runtime(app: FastAPI, settings: WarehouseSettings, ports: WarehousePorts) -> Runtime:
    """The query API alone over ``ports``: the store on its worker threads and the keys; no Kafka at all."""
    return _install(app, settings, ports.store, ports.api_keys, ports.tables, ports.retention)
