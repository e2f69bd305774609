"""The pricer: a kit ``ConsumerLoop`` over ``llmops.calls.recorded``, at least once, effectively once.

Each record is read by the msgspec struct derived from the call event (:mod:`llmops_schemas.fastcodec`, an
accept path: what it refuses is parsed by pydantic, which words every rejection; v1 calls are upcast). Anything
that is not a call event is poison, and the loop dead-letters it to ``llmops.calls.recorded.dlq`` with the cause.
Offsets are committed only after every cost event of the batch was acknowledged by Kafka; a batch redelivered
after a crash is priced again under the same event ids (:func:`~llmops_cost.handlers.cost_event_id`), so the
warehouse counts each call once.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.errors import KafkaError
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.fastcodec import event_decoder
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import CallRecorded

from llmops_cost.config import CostSettings
from llmops_cost.handlers import CallEvent, Pricer, price_calls
from llmops_cost.prices import PriceStore

__all__ = ["SERVICE", "build_consumer", "decode_call", "read_call"]

SERVICE = "cost"
_CALLS = event_decoder(CallRecorded)


def decode_call(message: ConsumedMessage) -> CloudEvent[CallRecorded]:
    """The call event of ``message``; :class:`PermanentError` (dead-lettered) for anything else."""
    try:
        event = parse_event(message.value, expect=CallRecorded)
    except EventValidationError as exc:
        raise PermanentError(str(exc)) from exc
    if not isinstance(event.data, CallRecorded):
        raise PermanentError(f"{event.type} is not a call event")
    return event


def read_call(message: ConsumedMessage) -> CallEvent:
    """The call of ``message``: the derived struct when it accepts the record, else :func:`decode_call`'s."""
    event = _CALLS.decode(message.value)
    if event is not None and event.type == CallRecorded.event_type:
        found: CallEvent = event
        return found
    return decode_call(message)


def build_consumer(
    settings: CostSettings, prices: PriceStore, pricer: Pricer, out: EventPublisher, dead_letters: EventProducer
) -> ConsumerLoop[CallEvent]:
    """The loop that prices every recorded call once the tenants' prices are loaded."""

    async def handle(deliveries: Sequence[Delivery[CallEvent]]) -> None:
        if not prices.caught_up:
            # Pricing before the negotiated prices are read would book catalog prices for good: wait, uncommitted.
            raise TransientError("the tenants' prices are still loading")
        try:
            await price_calls([d.item for d in deliveries], pricer, out)
        except KafkaError as exc:
            raise TransientError(f"publishing costs failed: {exc}") from exc

    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        topics=[CallRecorded.topic],
        decode=read_call,
        handle=handle,
        dead_letters=dead_letters,
        service=SERVICE,
        max_batch=settings.batch_size,
        max_wait_ms=settings.batch_wait_ms,
        security=settings.kafka_security,
    )
