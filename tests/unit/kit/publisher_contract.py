"""The behaviour every EventPublisher must have, as one suite run against each implementation.

Subclass :class:`PublisherContract` and provide three fixtures: ``publisher`` (the implementation),
``topic`` (a fresh, empty topic name) and ``read`` (``await read(topic, count)`` -> the records on that
topic, waiting until ``count`` are there and failing on more). test_publisher_fake.py runs it on the kit's
:class:`~llmops_kit.kafka.publisher.InMemoryPublisher`, tests/integration/kit/test_publisher_contract.py
on the real :class:`~llmops_kit.kafka.producer.EventProducer` against the session's broker.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import ClassVar

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from llmops_kit.kafka.producer import MAX_REQUEST_BYTES
from llmops_kit.kafka.publisher import EncodedEvent, EventPublisher
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v1.common import CompactedPayload

Record = tuple[bytes | None, bytes, dict[str, bytes]]
"""``(key, value, headers)`` as a consumer reads a record."""
Read = Callable[[str, int], Awaitable[list[Record]]]


class Noted(EventPayload):
    """A stream payload for this suite only (its ``topic`` is set per test)."""

    event_type: ClassVar[str] = "llmops.contracttest.noted.v1"
    topic: ClassVar[str] = "llmops.contracttest.noted"

    n: int
    text: str = ""


class Configured(CompactedPayload):
    """A config payload for this suite only: compacted, keyed by tenant and entity."""

    event_type: ClassVar[str] = "llmops.contracttest.configured.v1"
    topic: ClassVar[str] = "llmops.contracttest.configured"

    name: str

    def entity_key(self) -> str:
        return self.name


def noted(tenant: str, n: int, text: str = "") -> CloudEvent[Noted]:
    return CloudEvent.wrap(Noted(n=n, text=text), source="/tests/contract", tenant_id=tenant)


def ids(records: list[Record]) -> list[str]:
    return [json.loads(value)["id"] for _, value, _ in records]


class PublisherContract:
    @pytest.fixture
    def publisher(self) -> EventPublisher:
        raise NotImplementedError

    @pytest.fixture
    def topic(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def read(self) -> Read:
        raise NotImplementedError

    async def test_events_land_keyed_by_tenant_in_order_with_their_type(
        self, publisher: EventPublisher, topic: str, read: Read
    ) -> None:
        tenants = ["acme", "globex", "acme", "initech", "globex", "acme"]
        sent = [noted(tenant, n) for n, tenant in enumerate(tenants)]

        await publisher.publish_many(sent, topic=topic)

        records = await read(topic, len(sent))
        by_id = {json.loads(value)["id"]: (key, value, headers) for key, value, headers in records}
        for event in sent:
            key, value, headers = by_id[event.id]
            assert key == event.tenant_id.encode()
            assert headers["ce_type"] == b"llmops.contracttest.noted.v1"
            assert json.loads(value) == json.loads(event.to_json_bytes())
        for tenant in set(tenants):
            mine = [event_id for event_id, (key, _, _) in by_id.items() if key == tenant.encode()]
            assert [i for i in ids(records) if i in mine] == [e.id for e in sent if e.tenant_id == tenant]

    async def test_without_a_topic_events_go_to_their_payloads_topic(
        self, publisher: EventPublisher, topic: str, read: Read, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(Noted, "topic", topic)
        event = noted("acme", 1)

        await publisher.publish_many([event])

        assert ids(await read(topic, 1)) == [event.id]

    async def test_compacted_payloads_are_keyed_by_tenant_and_entity(
        self, publisher: EventPublisher, topic: str, read: Read
    ) -> None:
        event = CloudEvent.wrap(Configured(name="summarise"), source="/tests/contract", tenant_id="acme")

        await publisher.publish_many([event], topic=topic)

        ((key, _, _),) = await read(topic, 1)
        assert key == b"acme:summarise"

    async def test_encoded_events_are_published_as_given(
        self, publisher: EventPublisher, topic: str, read: Read
    ) -> None:
        events = [noted("acme", 1), noted("globex", 2)]
        # Serialised by hand, not by pydantic: the publisher takes the bytes as they are.
        encoded = [
            EncodedEvent(
                topic, e.tenant_id.encode(), e.type, json.dumps(e.model_dump(mode="json", by_alias=True)).encode()
            )
            for e in events
        ]

        await publisher.publish_encoded(encoded)

        records = await read(topic, 2)
        assert sorted((key, value, headers["ce_type"]) for key, value, headers in records) == sorted(
            (e.key, e.value, e.type.encode()) for e in encoded
        )

    async def test_an_encoded_record_too_large_fails_the_call_with_nothing_published(
        self, publisher: EventPublisher, topic: str, read: Read
    ) -> None:
        small, huge = (
            EncodedEvent.of(noted("acme", n, text=t), topic=topic) for n, t in ((1, ""), (2, "x" * MAX_REQUEST_BYTES))
        )

        with pytest.raises(MessageSizeTooLargeError):
            await publisher.publish_encoded([small, huge])
        marker = noted("acme", 3)
        await publisher.publish_many([marker], topic=topic)

        assert ids(await read(topic, 1)) == [marker.id]

    async def test_a_record_too_large_fails_the_call_with_nothing_published(
        self, publisher: EventPublisher, topic: str, read: Read
    ) -> None:
        small, huge = noted("acme", 1), noted("acme", 2, text="x" * MAX_REQUEST_BYTES)

        with pytest.raises(MessageSizeTooLargeError):
            await publisher.publish_many([small, huge, small], topic=topic)
        marker = noted("acme", 3)
        await publisher.publish_many([marker], topic=topic)

        # Same key, same partition: a stored ``small`` would be read before the marker.
        assert ids(await read(topic, 1)) == [marker.id]

    async def test_an_empty_batch_publishes_nothing(self, publisher: EventPublisher, topic: str, read: Read) -> None:
        await publisher.publish_many([], topic=topic)
        marker = noted("acme", 1)
        await publisher.publish_many([marker], topic=topic)

        assert ids(await read(topic, 1)) == [marker.id]
