"""The gateway's background-connecting producer passes the same publisher contract as the kit's producer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from llmops_inference.adapters.kafka import BackgroundProducer

from tests.fixtures.kafka import read_published
from tests.unit.kit.publisher_contract import PublisherContract, Read

pytestmark = pytest.mark.integration


class TestBackgroundProducer(PublisherContract):
    @pytest.fixture
    async def publisher(self, kafka_bootstrap: str) -> AsyncIterator[BackgroundProducer]:
        producer = BackgroundProducer(kafka_bootstrap, service=f"contract-{uuid.uuid4().hex[:8]}", ensure_topic=False)
        await producer.start()
        try:
            async with asyncio.timeout(30):
                while not producer.connected:  # it connects in the background
                    await asyncio.sleep(0.05)
            yield producer
        finally:
            await producer.stop()

    @pytest.fixture
    def topic(self, make_topic: Callable[..., str]) -> str:
        return make_topic(partitions=3)

    @pytest.fixture
    def read(self, kafka_bootstrap: str) -> Read:
        return lambda topic, count: read_published(kafka_bootstrap, topic, count)
