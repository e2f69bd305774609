"""What the warehouse does with events: store each once, in the table the mapping names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llmops_kit.kafka.consumer import ConsumedMessage, Delivery
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.events import StoredEvent
from llmops_warehouse.ports import AsyncEventStore

__all__ = ["Item", "Rejected", "store_batch"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record of a topic without a DLQ (compacted) that cannot be stored, and why."""

    message: ConsumedMessage
    cause: str


Item = CloudEvent[CallRecorded] | StoredEvent | Rejected
"""What the consumer decodes a record into."""


async def store_batch(
    deliveries: Sequence[Delivery[Item]], store: AsyncEventStore, on_rejected: Callable[[Rejected], None]
) -> int:
    """Insert a batch: calls into ``calls``, every other event into its table; the store skips event ids it
    already holds (redelivery). Returns the rows written."""
    calls: list[CloudEvent[CallRecorded]] = []
    events: list[StoredEvent] = []
    for delivery in deliveries:
        item = delivery.item
        if isinstance(item, CloudEvent):
            calls.append(item)
        elif isinstance(item, StoredEvent):
            events.append(item)
        else:
            on_rejected(item)
    written = await store.insert_calls(calls) if calls else 0
    return written + (await store.insert_events(events) if events else 0)
