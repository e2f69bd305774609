"""The warehouse consumer over every topic it is listed on, on a real broker and the session's chDB engine.

* Events of other topics land in their tables; tombstones on compacted topics become delete markers; a bad
  record goes to its topic's DLQ (or, on a compacted topic without one, is rejected without stalling).
* A ClickHouse server error with a transient code is retried until the server takes the write, never
  dead-lettered.
* A fixture event type added with only a migration and a mapping entry round-trips: consumed, deduplicated,
  read through the generic endpoint.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Sequence
from datetime import timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from clickhouse_connect.driver.exceptions import DatabaseError
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import dlq_topic
from llmops_schemas import registry
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v1.examples import example
from llmops_schemas.v1.prompts import PromptVersionPublished
from llmops_schemas.v2 import CallRecorded, EvaluationScored
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.call_events import CallEvent
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.events import EventQuery, StoredEvent
from llmops_warehouse.migrations import apply_migrations, default_migrations_dir
from llmops_warehouse.models import CallQuery
from llmops_warehouse.tables import TABLES, Column, EventTable
from pydantic import AwareDatetime

from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, _read_from, wait_until
from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = pytest.mark.integration


def settings(kafka_bootstrap: str) -> WarehouseSettings:
    group = f"warehouse-it-{uuid.uuid4().hex[:12]}"
    return WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group, batch_wait_ms=100)


async def rows(store: ConcurrentEventStore, tenant: str, table: str) -> list[Any]:
    return (await store.read_events(EventQuery(tenant_id=tenant, table=table, limit=1000))).items


async def test_every_topic_lands_in_its_table_and_tombstones_become_markers(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    score = CloudEvent.wrap(example(EvaluationScored), source="//llmops/evaluation", tenant_id=tenant, key_id="k-e")
    prompt = CloudEvent.wrap(example(PromptVersionPublished), source="//llmops/inference", tenant_id=tenant)
    prompts = PromptVersionPublished.topic
    bad_score = b'{"not": "an event"} ' + tenant.encode()
    dlq_start = await _end_offsets(kafka_bootstrap, dlq_topic(EvaluationScored.topic))
    consumer = build_consumer(settings(kafka_bootstrap), store, producer)
    await consumer.start()
    try:
        await producer.publish_many([score, prompt, score])  # the score twice: stored once
        await _send_raw(
            kafka_bootstrap,
            [
                (prompts, f"{tenant}:{prompt.data.name}:{prompt.data.version}", None),
                (prompts, f"{tenant}:{prompt.data.name}:label:production", None),
                (prompts, "no-tenant-here", b"{not json"),  # rejected: compacted topics have no DLQ
                (EvaluationScored.topic, tenant, bad_score),
            ],
        )

        async def stored() -> bool:
            return len(await rows(store, tenant, "prompt_versions")) == 2 and bool(
                await rows(store, tenant, "prompt_label_moves")
            )

        await wait_until(stored, "the prompt version, its tombstone and the label tombstone")
        await producer.publish(make_event(tenant))  # the consumer is still alive after the rejected record
        await wait_until(lambda: _has_calls(store, tenant), "a call published after the rejected record", timeout_s=30)
    finally:
        await consumer.stop()

    [scored] = await rows(store, tenant, "evaluation_scores")
    assert (scored.event_id, scored.source, scored.key_id) == (score.id, "//llmops/evaluation", "k-e")
    assert scored.data == score.data.model_dump(mode="json")
    marker, version = await rows(store, tenant, "prompt_versions")
    assert (version.event_id, version.deleted, marker.deleted, marker.data) == (prompt.id, False, True, None)
    [label] = await rows(store, tenant, "prompt_label_moves")
    assert label.deleted and label.record_key == f"{tenant}:{prompt.data.name}:label:production"
    dead = [r.value for r in await _read_from(kafka_bootstrap, dlq_start) if r.key == tenant.encode()]
    assert dead == [bad_score]
    await store.stop()


async def _send_raw(bootstrap: str, records: list[tuple[str, str, bytes | None]]) -> None:
    """Publish raw records, tombstones (a None value) included, which the kit's producer never sends."""
    raw = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await raw.start()
    try:
        for topic, key, value in records:
            await raw.send_and_wait(topic, value, key=key.encode())
    finally:
        await raw.stop()


async def _has_calls(store: ConcurrentEventStore, tenant: str) -> bool:
    return bool((await store.list_calls(CallQuery(tenant_id=tenant))).items)


class BusyStore(ClickHouseEventStore):
    """Refuses call inserts as a busy server does (TOO_MANY_PARTS) for longer than the loop's retries of a
    batch and then of each message (4 + 4 attempts), then works: dead-lettering would have begun by then."""

    refusals = 9

    def insert_calls(self, events: Sequence[CallEvent]) -> int:
        if self.refusals:
            self.refusals -= 1
            raise DatabaseError("Code: 252. DB::Exception: Too many parts (300). Merges are slower. (TOO_MANY_PARTS)")
        return super().insert_calls(events)


async def test_a_transient_server_error_is_retried_and_never_dead_letters(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    busy = BusyStore(chdb_client, warehouse_database)
    store = ConcurrentEventStore(busy)
    events = [make_event(tenant, started_at=BASE + timedelta(seconds=i)) for i in range(5)]
    dlq_start = await _end_offsets(kafka_bootstrap, dlq_topic(CallRecorded.topic))
    consumer = build_consumer(settings(kafka_bootstrap), store, producer)
    await consumer.start()
    try:
        await producer.publish_many(events)

        async def all_stored() -> bool:
            return len((await store.list_calls(CallQuery(tenant_id=tenant, limit=100))).items) == len(events)

        await wait_until(all_stored, "every call despite the refused insert")
    finally:
        await consumer.stop()
        await store.stop()
    assert busy.refusals == 0
    assert [r for r in await _read_from(kafka_bootstrap, dlq_start) if r.key == tenant.encode()] == []


# --- a fixture event type: one migration and one mapping entry ---------------------------------------------


class FixtureNoted(EventPayload):
    """A made-up event type, to prove that adding one needs no new code path."""

    event_type: ClassVar[str] = "llmops.fixture.noted.v1"
    topic: ClassVar[str] = "llmops.fixture.notes"

    app: str
    note: str
    noted_at: AwareDatetime


FIXTURE_MIGRATION = """
CREATE TABLE IF NOT EXISTS ${database}.fixture_notes
(
    event_id UUID, tenant_id LowCardinality(String), event_type LowCardinality(String), time DateTime64(3, 'UTC'),
    source LowCardinality(String), key_id String, subject String, trace_id String, record_key String, deleted Bool,
    app LowCardinality(String),
    payload String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree PARTITION BY toDate(time) ORDER BY (tenant_id, time, event_id);
"""
FIXTURE_TABLE = EventTable("fixture_notes", FixtureNoted, (Column("app", attrgetter("app")),))
KEY = "llmops_fixture_reader_key_000000000000001"


@pytest.fixture
def fixture_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture type is known to the schema registry, as a real one would be through its contract."""
    known = {**registry.EVENT_TYPES, FixtureNoted.event_type: FixtureNoted}
    monkeypatch.setattr(registry, "EVENT_TYPES", types.MappingProxyType(known))


async def _create_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = await admin.list_topics()
        new = [NewTopic(t, 1, 1) for t in (name, dlq_topic(name)) if t not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


@pytest.mark.usefixtures("fixture_type")
async def test_a_fixture_type_with_a_migration_and_a_mapping_entry_round_trips(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, scratch_database: str, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for path in default_migrations_dir().glob("*.sql"):
        (migrations / path.name).write_bytes(path.read_bytes())
    (migrations / "9001_fixture_notes.sql").write_text(FIXTURE_MIGRATION)
    apply_migrations(chdb_client, migrations, database=scratch_database)
    await _create_topic(kafka_bootstrap, FixtureNoted.topic)

    tables = (*TABLES, FIXTURE_TABLE)
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, scratch_database, tables=tables))
    tenant = new_tenant()
    note = CloudEvent.wrap(FixtureNoted(app="chat", note="hello", noted_at=BASE), source="//fixture", tenant_id=tenant)
    consumer = build_consumer(settings(kafka_bootstrap), store, producer, tables=tables, topics=[FixtureNoted.topic])
    await consumer.start()
    try:
        await producer.publish_many([note, note])
        await producer.publish(note)  # a redelivery after it was stored
        await wait_until(lambda: _fixture_rows(store, tenant, 1), "the fixture event in its table")
    finally:
        await consumer.stop()
    assert [StoredEvent.of("fixture_notes", note).event_id] == [
        uuid.UUID(r.event_id) for r in await rows(store, tenant, "fixture_notes")
    ]

    keys = ApiKeyStore([ApiKeyRecord(id="r", tenant_id=tenant, role="reader", sha256=hash_key(KEY))])
    app = create_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, scratch_database, tables=tables), keys, tables),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse") as client,
    ):
        page = await client.get(
            "/v1/events/fixture_notes", params={"app": "chat"}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert page.status_code == 200, page.text
        [item] = page.json()["items"]
        assert (item["event_id"], item["type"], item["data"]["note"]) == (note.id, FixtureNoted.event_type, "hello")
        other = await client.get(
            "/v1/events/fixture_notes", params={"call_id": "x"}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert other.status_code == 422
    await store.stop()


async def _fixture_rows(store: ConcurrentEventStore, tenant: str, count: int) -> bool:
    return len(await rows(store, tenant, "fixture_notes")) >= count
