"""The real Kafka producer passes the same publisher contract as the kit's in-memory fake."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from llmops_kit.kafka.producer import EventProducer

from tests.unit.kit.publisher_contract import PublisherContract, Read, Record

pytestmark = pytest.mark.integration

WAIT_S = 20.0


class TestEventProducer(PublisherContract):
    @pytest.fixture
    async def publisher(self, kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
        producer = EventProducer(kafka_bootstrap, service=f"contract-{uuid.uuid4().hex[:8]}")
        await asyncio.wait_for(producer.start(), WAIT_S)
        try:
            yield producer
        finally:
            await producer.stop()

    @pytest.fixture
    def topic(self, make_topic: Callable[..., str]) -> str:
        return make_topic(partitions=3)

    @pytest.fixture
    def read(self, kafka_bootstrap: str) -> Read:
        return lambda topic, count: read_records(kafka_bootstrap, topic, count)


async def read_records(bootstrap: str, topic: str, count: int) -> list[Record]:
    """Every record of ``topic`` from the start, once ``count`` are there (in offset order per partition)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (meta,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        consumer.assign([TopicPartition(topic, p["partition"]) for p in meta["partitions"]])
        records: list[Record] = []
        deadline = time.monotonic() + WAIT_S
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend((r.key, r.value or b"", dict(r.headers)) for r in batch)
        assert len(records) == count, f"read {len(records)} records of {topic}, expected {count}"
        return records
    finally:
        await consumer.stop()
