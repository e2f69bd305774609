"""What the warehouse does with events: store calls, once each."""

from __future__ import annotations

from collections.abc import Sequence

from llmops_kit.kafka.consumer import Delivery
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.threaded_store import ThreadedCallStore

__all__ = ["store_calls"]


async def store_calls(deliveries: Sequence[Delivery[CloudEvent[CallRecorded]]], store: ThreadedCallStore) -> int:
    """Insert a batch of recorded calls; the store skips event ids it already holds (redelivery)."""
    return await store.insert_calls([d.item for d in deliveries])
