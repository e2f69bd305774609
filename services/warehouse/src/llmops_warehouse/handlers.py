"""What the warehouse does with events: store each once, in the table the mapping names."""

from __future__ import annotations

from collections.abc import Sequence

from llmops_kit.kafka.consumer import Delivery
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

from llmops_warehouse.events import StoredEvent
from llmops_warehouse.ports import AsyncEventStore

__all__ = ["Item", "store_batch"]


Item = CloudEvent[CallRecorded] | StoredEvent
"""What the consumer decodes a record into."""


async def store_batch(deliveries: Sequence[Delivery[Item]], store: AsyncEventStore) -> int:
    """Insert a batch: calls into ``calls``, every other event into its table; the store skips event ids it
    already holds (redelivery). Returns the rows written."""
    calls: list[CloudEvent[CallRecorded]] = []
    events: list[StoredEvent] = []
    for delivery in deliveries:
        item = delivery.item
        if isinstance(item, CloudEvent):
            calls.append(item)
        else:
            events.append(item)
    written = await store.insert_calls(calls) if calls else 0
    return written + (await store.insert_events(events) if events else 0)
