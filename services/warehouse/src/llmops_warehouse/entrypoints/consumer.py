"""The warehouse's consumer: ``llmops.calls.recorded`` into ClickHouse, in batches, at least once."""

from __future__ import annotations

from collections.abc import Sequence

from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.handlers import store_calls
from llmops_warehouse.models import canonical_event_id
from llmops_warehouse.threaded_store import ThreadedCallStore

__all__ = ["build_consumer", "decode_call_recorded"]


def decode_call_recorded(message: ConsumedMessage) -> CloudEvent[CallRecorded]:
    """Parse and validate one record; anything that is not a valid call.recorded event is poison."""
    event = parse_event(message.value, expect=CallRecorded)
    if not isinstance(event.data, CallRecorded):
        raise PermanentError(f"expected {CallRecorded.event_type} on {message.topic}, got {event.type}")
    try:
        canonical_event_id(event.id)
    except ValueError as exc:
        # Rows are keyed by a UUID; catching this here dead-letters one record instead of failing a batch.
        raise PermanentError(f"event id {event.id!r} is not a UUID") from exc
    return event


def build_consumer(
    settings: WarehouseSettings, store: ThreadedCallStore, dead_letters: EventProducer
) -> ConsumerLoop[CloudEvent[CallRecorded]]:
    """The consumer loop that stores recorded calls (offsets committed only after the insert)."""

    async def handle(deliveries: Sequence[Delivery[CloudEvent[CallRecorded]]]) -> None:
        await store_calls(deliveries, store)

    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        topics=[CallRecorded.topic],
        decode=decode_call_recorded,
        handle=handle,
        dead_letters=dead_letters,
        service="warehouse",
        max_batch=settings.batch_size,
        max_wait_ms=settings.batch_wait_ms,
        security=settings.kafka_security,
    )
