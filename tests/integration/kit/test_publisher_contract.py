"""The real Kafka producer passes the same publisher contract as the kit's in-memory fake."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from llmops_kit.kafka.producer import EventProducer

from tests.fixtures.kafka import read_published
from tests.unit.kit.publisher_contract import PublisherContract, Read

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
        return lambda topic, count: read_published(kafka_bootstrap, topic, count)
