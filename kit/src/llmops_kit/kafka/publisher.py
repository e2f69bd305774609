"""The one port through which every service publishes events, and its in-memory fake.

Handlers and recorders depend on :class:`EventPublisher`, never on aiokafka: production wires the kit's
:class:`~llmops_kit.kafka.producer.EventProducer`, unit tests :class:`InMemoryPublisher`. Both pass the
shared contract suite (``tests/unit/kit/publisher_contract.py``), so the fake cannot drift from Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiokafka.errors import MessageSizeTooLargeError
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.registry import parse_event

from llmops_kit.kafka.producer import MAX_REQUEST_BYTES, EncodedEvent

__all__ = ["EncodedEvent", "EventPublisher", "InMemoryPublisher", "Published"]

P = TypeVar("P", bound=EventPayload)


class EventPublisher(Protocol):
    """Publishes CloudEvents durably.

    ``publish_many`` returns only once the broker acknowledged every event, and raises if any is not, so
    a caller may say "accepted" exactly when it returns. Each event goes to its payload's topic (or to
    ``topic`` when given), keyed by :func:`~llmops_schemas.registry.record_key` (the tenant, or the entity
    on compacted topics), in order per key, with a ``ce_type`` header. A record over the size limit fails the
    whole call before anything is published; any other failure may leave part of the batch published (at least
    once: sinks deduplicate on event ids).
    """

    async def publish_many(self, events: Iterable[CloudEvent[P]], *, topic: str | None = None) -> None: ...

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        """As ``publish_many``, for events their producer serialised itself (a hot path that never builds the
        pydantic event, docs/adr/0014): each goes to its ``topic`` under its ``key``, its ``value`` as given."""
        ...


@dataclass(frozen=True, slots=True)
class Published:
    """One record as the fake stored it: where it went, its key, bytes and headers, and the event."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    given: CloudEvent[Any] | None = None
    """The event as handed to ``publish_many`` (None for ``publish_encoded``, which gets bytes)."""

    @property
    def event(self) -> CloudEvent[Any]:
        """The event published, read back from its bytes as a consumer would when it was given as bytes."""
        return self.given if self.given is not None else parse_event(self.value, upcast_to_latest=False)

    @property
    def size(self) -> int:
        """Bytes counted against the record size limit, as the producer counts them."""
        return len(self.value) + len(self.key or b"") + sum(len(name) + len(data) for name, data in self.headers)


class InMemoryPublisher:
    """An :class:`EventPublisher` that keeps every record in ``published``, topic and key included.

    Set ``failure`` to make the next publishes raise it (Kafka down); a failing publish stores nothing.
    ``attempts`` counts every call, failed ones too; ``ping`` answers like ``EventProducer.ping``.
    """

    def __init__(self) -> None:
        self.published: list[Published] = []
        self.failure: BaseException | None = None
        self.attempts = 0

    async def publish_many(self, events: Iterable[CloudEvent[P]], *, topic: str | None = None) -> None:
        batch = list(events)
        self._store([(EncodedEvent.of(e, topic=topic), e) for e in batch])

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        self._store([(e, None) for e in events])

    def _store(self, batch: list[tuple[EncodedEvent, CloudEvent[Any] | None]]) -> None:
        self.attempts += 1
        if self.failure is not None:
            raise self.failure
        records = [Published(e.topic, e.key, e.value, (("ce_type", e.type.encode()),), event) for e, event in batch]
        for record in records:  # every one checked before any is stored, as the producer does
            if record.size > MAX_REQUEST_BYTES:
                raise MessageSizeTooLargeError(
                    f"a record of {record.size} bytes exceeds the limit of {MAX_REQUEST_BYTES}"
                )
        self.published.extend(records)

    async def ping(self) -> bool:
        """Readiness: the broker answers unless ``failure`` is set."""
        return self.failure is None

    @property
    def events(self) -> list[CloudEvent[Any]]:
        """Every event published, in order."""
        return [record.event for record in self.published]

    @property
    def topics(self) -> list[str]:
        """The topic of each event in :attr:`events`."""
        return [record.topic for record in self.published]

    def on(self, topic: str) -> list[CloudEvent[Any]]:
        """The events published to ``topic``, in order."""
        return [record.event for record in self.published if record.topic == topic]

    def of(self, payload: type[P]) -> list[P]:
        """The payloads of class ``payload``, in order."""
        return [record.event.data for record in self.published if isinstance(record.event.data, payload)]

    def records(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        """``(key, value)`` of every record on ``topic``, as a Kafka consumer would read them."""
        return [(record.key, record.value) for record in self.published if record.topic == topic]
