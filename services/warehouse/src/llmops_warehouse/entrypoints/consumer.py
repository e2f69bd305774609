"""The warehouse's consumer: every topic the catalog lists it on, into ClickHouse, in batches, at least once.

One consumer group reads ``TopicCatalog.consumed_by("warehouse")``. Calls take their own fast decode path (the
struct derived from the pydantic model, pydantic for what it refuses: :mod:`llmops_warehouse.call_events`,
docs/adr/0014); every other record is parsed (and upcast to
the newest version of its type) and routed to its table by :data:`llmops_warehouse.tables.TABLES`. A null
value on a compacted topic is a tombstone, stored as a delete-marker row. Offsets are committed only after
the insert.

What cannot be stored goes to the topic's DLQ with the cause. Compacted topics have no DLQ (the catalog
rejects bad config at its producer), so a bad record there is logged and counted as rejected instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.envelope import TENANT_PATTERN
from llmops_schemas.registry import parse_event
from llmops_schemas.v1.common import CompactedPayload
from llmops_schemas.v2 import CallRecorded, EvaluationScored

from llmops_warehouse.call_events import CallEvent, decode_call
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.erasure.eraser import Eraser
from llmops_warehouse.events import StoredEvent, tombstone_id
from llmops_warehouse.handlers import Item, store_batch
from llmops_warehouse.models import canonical_event_id
from llmops_warehouse.pass_events import decode_pass
from llmops_warehouse.ports import AsyncEventStore
from llmops_warehouse.tables import TABLES, EventTable, table_for_type

__all__ = ["Router", "build_consumer", "decode_call_recorded", "warehouse_topics"]

log = logging.getLogger(__name__)
SERVICE = "warehouse"
_TENANT_RE = re.compile(TENANT_PATTERN)


def decode_call_recorded(message: ConsumedMessage) -> CallEvent:
    """Parse and validate one record into the call struct; anything that is not a valid call.recorded event is
    poison (``parse_event`` words why)."""
    event = decode_call(message.value, message.topic)
    _check_id(event.id)
    return event


def _check_id(event_id: str) -> None:
    try:
        canonical_event_id(event_id)
    except ValueError as exc:
        # Rows are keyed by a UUID; catching this here dead-letters one record instead of failing a batch.
        raise PermanentError(f"event id {event_id!r} is not a UUID") from exc


def warehouse_topics(catalog: TopicCatalog | None = None) -> list[str]:
    """The topics the catalog lists the warehouse as a consumer of."""
    return (catalog or TopicCatalog.load()).consumed_by(SERVICE)


@dataclass(frozen=True)
class Router:
    """Turns a record of any warehouse topic into what to store (see the module docstring)."""

    tables: Sequence[EventTable]
    compacted: frozenset[str]

    def decode(self, message: ConsumedMessage) -> Item:
        """The call event or the stored event of ``message``; raises on anything that cannot be stored (the
        loop dead-letters it, or on a compacted topic, which has no DLQ, counts it as rejected)."""
        if message.topic == CallRecorded.topic:
            return decode_call_recorded(message)
        if message.topic in self.compacted and not message.value:
            return self._tombstone(message)
        return self._event(message)

    def _event(self, message: ConsumedMessage) -> StoredEvent:
        passes = message.topic == EvaluationScored.topic  # the passes' fast path (docs/adr/0032)
        event = decode_pass(message.value) if passes else parse_event(message.value)
        table = table_for_type(self.tables, event.type)
        if table is None or table.topic != message.topic:
            raise PermanentError(f"the warehouse stores no {event.type} from {message.topic}")
        _check_id(event.id)
        return StoredEvent.of(table.name, event, record_key=_text_key(message))

    def _tombstone(self, message: ConsumedMessage) -> StoredEvent:
        key = _text_key(message)
        tenant = key.split(":", 1)[0]
        if not _TENANT_RE.match(tenant) or ":" not in key:
            raise PermanentError(f"tombstone key {key[:200]!r} does not start with '<tenant_id>:'")
        owners = [t for t in self.tables if t.topic == message.topic and t.owns_key(key)]
        if len(owners) != 1:
            raise PermanentError(f"tombstone key {key[:200]!r} names no single table of {message.topic}")
        return StoredEvent(
            table=owners[0].name,
            event_id=tombstone_id(message.topic, message.partition, message.offset),
            tenant_id=tenant,
            event_type=owners[0].event_type,
            time_ms=message.timestamp_ms,
            record_key=key,
        )


def _text_key(message: ConsumedMessage) -> str:
    try:
        return (message.key or b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PermanentError("the record key is not UTF-8") from exc


def build_consumer(
    settings: WarehouseSettings,
    store: AsyncEventStore,
    dead_letters: EventProducer,
    *,
    tables: Sequence[EventTable] = TABLES,
    catalog: TopicCatalog | None = None,
    topics: Sequence[str] | None = None,
    eraser: Eraser | None = None,
) -> ConsumerLoop[Item]:
    """The consumer loop that stores every warehouse topic (offsets committed only after the insert).

    ``topics`` defaults to ``catalog``'s :func:`warehouse_topics`; ``tables`` to the mapping. ``eraser``
    processes erasure requests and screens every batch against the erasure ledger before it is stored.
    """
    topics = list(topics) if topics is not None else warehouse_topics(catalog)
    # A topic of compacted payloads is a compacted topic (the catalog agrees: tests/unit/warehouse pins it).
    compacted = frozenset(t.topic for t in tables if issubclass(t.payload, CompactedPayload))
    router = Router(tables=tuple(tables), compacted=compacted)

    async def handle(deliveries: Sequence[Delivery[Item]]) -> None:
        await store_batch(await eraser.handle(deliveries) if eraser else deliveries, store)

    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        topics=topics,
        decode=router.decode,
        handle=handle,
        dead_letters=dead_letters,
        service=SERVICE,
        max_batch=settings.batch_size,
        max_wait_ms=settings.batch_wait_ms,
        security=settings.kafka_security,
        without_dlq=compacted,
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
    )
