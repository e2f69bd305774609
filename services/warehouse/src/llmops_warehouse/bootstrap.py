"""Wiring: the ClickHouse store (migrated at start), the DLQ producer and the consumer loop."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.http.app import Runtime
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseCallStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.migrations import apply_migrations
from llmops_warehouse.ports import CallStore
from llmops_warehouse.threaded_store import ThreadedCallStore

__all__ = ["StoreLifetime", "build_runtime", "open_clickhouse_store"]


def open_clickhouse_store(settings: WarehouseSettings) -> CallStore:
    """Connect to ClickHouse and bring its schema up to date (idempotent)."""
    client = connect(settings.clickhouse_url, settings.clickhouse_user, settings.clickhouse_password.get_secret_value())
    apply_migrations(client, database=settings.database)
    return ClickHouseCallStore(client, settings.database)


@dataclass
class StoreLifetime:
    """Closes the store's worker thread when the app stops (after the consumer has drained)."""

    store: ThreadedCallStore

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.store.close()


@dataclass
class TopicsReady:
    """Creates the topics the warehouse reads (and their DLQs) if they are missing."""

    settings: WarehouseSettings

    async def start(self) -> None:
        if self.settings.ensure_topics:
            await ensure_topics(self.settings.kafka_bootstrap_servers, TopicCatalog.load(), [CallRecorded.topic])

    async def stop(self) -> None:
        return None


async def build_runtime(app: FastAPI, settings: WarehouseSettings, store: CallStore | None = None) -> Runtime:
    """Everything the warehouse runs, in start order; ``store`` lets tests inject a fake."""
    threaded = ThreadedCallStore(store or open_clickhouse_store(settings))
    producer = EventProducer(settings.kafka_bootstrap_servers, service="warehouse")
    consumer = build_consumer(settings, threaded, producer)
    if settings.api_keys_file is not None:
        app.state.api_keys = ApiKeyStore.from_file(settings.api_keys_file)
    app.state.store = threaded

    async def consumer_ready() -> bool:
        return consumer.ready

    return Runtime(
        components=[StoreLifetime(threaded), TopicsReady(settings), producer, consumer],
        checks={"kafka": producer.ping, "clickhouse": threaded.ping, "consumer": consumer_ready},
    )
