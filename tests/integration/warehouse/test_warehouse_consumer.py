"""The warehouse consumer end to end on a real broker and the session's chDB engine.

``build_consumer`` over a ``ClickHouseEventStore`` consumes ``llmops.calls.recorded`` in a consumer group
of its own; the test's calls belong to a tenant of its own, so whatever else the shared topic holds (other
tests publish to it too) neither disturbs nor is asserted on. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import dlq_topic
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.models import CallQuery, MetricsQuery

from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = pytest.mark.integration

TOPIC = CallRecorded.topic
DLQ = dlq_topic(TOPIC)
WAIT_S = 60.0
N = 12


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def store(chdb_client: Any, warehouse_database: str) -> AsyncIterator[ConcurrentEventStore]:
    concurrent = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    yield concurrent
    await concurrent.stop()


async def _end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    """Each partition's next offset (where a record published now will land)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (meta,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


async def _ends(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """Each partition's next offset on every one of ``topics``."""
    return {tp: end for topic in topics for tp, end in (await _end_offsets(bootstrap, topic)).items()}


async def _read_from(
    bootstrap: str, start: dict[TopicPartition, int], timeout_s: float = 5.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from ``start`` up to each partition's current end (no group, nothing committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        ends = await consumer.end_offsets(list(start))
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in start}
            if all(positions[tp] >= ends[tp] for tp in start):
                break
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_consumer_stores_each_call_once_dead_letters_poison_and_commits(
    kafka_bootstrap: str, producer: EventProducer, store: ConcurrentEventStore
) -> None:
    tenant = new_tenant()
    group = f"warehouse-it-{uuid.uuid4().hex[:12]}"
    settings = WarehouseSettings(
        kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group, batch_size=500, batch_wait_ms=100
    )
    events = [make_event(tenant, call_id=f"call-{i}", started_at=BASE + timedelta(seconds=i)) for i in range(N)]
    duplicate = events[0]
    no_uuid = make_event(tenant, call_id="bad-id", event_id="not-a-uuid")
    garbage = b"\xffthis is not an event " + tenant.encode()
    dlq_start = await _end_offsets(kafka_bootstrap, DLQ)

    consumer = build_consumer(settings, store, producer)
    await consumer.start()
    try:
        # Same event twice in one publish (likely one batch), poison in between, then a redelivery later.
        await producer.publish_many([*events[: N // 2], duplicate])
        await producer.send_many(
            [(TOPIC, tenant.encode(), garbage, ()), (TOPIC, tenant.encode(), no_uuid.to_json_bytes(), ())]
        )
        await producer.publish_many(events[N // 2 :])

        async def all_stored() -> bool:
            page = await store.list_calls(CallQuery(tenant_id=tenant, limit=1000))
            return len(page.items) >= N

        await wait_until(all_stored, f"{N} calls of {tenant} in ClickHouse")
        await producer.publish(events[1])  # redelivered after it was stored: skipped by the insert's check
        topic_end = await _end_offsets(kafka_bootstrap, TOPIC)

        async def consumed_to(end: dict[TopicPartition, int]) -> bool:
            committed = await _committed(kafka_bootstrap, group, list(end))
            return all(committed[tp] >= offset for tp, offset in end.items())

        await wait_until(lambda: consumed_to(topic_end), "the group to commit past everything published")
    finally:
        await consumer.stop()

    # Each call once, and counted once by the rollup.
    rows = (await store.list_calls(CallQuery(tenant_id=tenant, limit=1000))).items
    assert sorted(r.event_id for r in rows) == sorted(e.id for e in events)
    assert {r.call_id for r in rows} == {f"call-{i}" for i in range(N)}
    [summary] = await store.summary(MetricsQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(hours=1)))
    assert summary.calls == N

    # The poison went to the DLQ, with where it came from and why.
    dead = [r for r in await _read_from(kafka_bootstrap, dlq_start) if r.key == tenant.encode()]
    assert sorted(r.value for r in dead) == sorted([garbage, no_uuid.to_json_bytes()])
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["dlq.source_topic"] == TOPIC
        assert headers["dlq.consumer_group"] == group
    reasons = sorted({k: v.decode() for k, v in r.headers}["dlq.error_type"] for r in dead)
    assert reasons == ["EventValidationError", "PermanentError"]

    # Offsets are committed: a new member of the group gets nothing of what was consumed.
    assert [r for r in await _read_group(kafka_bootstrap, group) if r.key == tenant.encode()] == []


async def _committed(bootstrap: str, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The group's committed offsets (0 where it committed none); asking does not join the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def _read_group(bootstrap: str, group: str, quiet_s: float = 2.0) -> list[ConsumerRecord[bytes, bytes]]:
    """What a fresh member of ``group`` reads once it has its partitions, until ``quiet_s`` pass without any."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + WAIT_S
        while not consumer.assignment():
            assert time.monotonic() < deadline, "the new member got no partitions"
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        quiet_until = time.monotonic() + quiet_s
        while time.monotonic() < quiet_until:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
