"""The kit's in-memory publisher passes the publisher contract, and its test hooks behave as documented."""

from __future__ import annotations

import uuid

import pytest
from llmops_kit.errors import TransientError
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.kit.publisher_contract import Noted, PublisherContract, Read, Record, noted


class TestInMemoryPublisher(PublisherContract):
    @pytest.fixture
    def publisher(self) -> InMemoryPublisher:
        return InMemoryPublisher()

    @pytest.fixture
    def topic(self) -> str:
        return f"test.fake.{uuid.uuid4().hex[:8]}"

    @pytest.fixture
    def read(self, publisher: InMemoryPublisher) -> Read:
        async def read(topic: str, count: int) -> list[Record]:
            records = [(r.key, r.value, dict(r.headers)) for r in publisher.published if r.topic == topic]
            assert len(records) == count, f"{len(records)} records on {topic}, expected {count}"
            return records

        return read


async def test_a_failure_stores_nothing_and_counts_the_attempt() -> None:
    publisher = InMemoryPublisher()
    publisher.failure = TransientError("Kafka down")

    with pytest.raises(TransientError):
        await publisher.publish_many([noted("acme", 1)])

    assert publisher.published == []
    assert publisher.attempts == 1
    assert not await publisher.ping()


async def test_views_by_topic_and_payload_keep_the_topic() -> None:
    publisher = InMemoryPublisher()
    first, second = noted("acme", 1), noted("acme", 2)

    await publisher.publish_many([first])
    await publisher.publish_many([second], topic="elsewhere")

    assert publisher.topics == [Noted.topic, "elsewhere"]
    assert publisher.on("elsewhere") == [second]
    assert publisher.of(Noted) == [first.data, second.data]
    assert publisher.records(Noted.topic) == [(b"acme", first.to_json_bytes())]
