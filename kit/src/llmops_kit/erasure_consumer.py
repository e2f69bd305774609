"""The consumer that runs an :class:`~llmops_kit.erasure.ErasureWorker` over requests and receipts (docs/adr/0044).

One group per service reads ``llmops.erasure.requests`` and ``llmops.erasure.receipts``; offsets are committed
after the worker's tombstones and receipt were acknowledged, and what does not decode goes to the topic's DLQ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.errors import KafkaError
from llmops_schemas import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import ErasureProcessed, ErasureRequested

from llmops_kit.erasure import ErasureWorker
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformCallError
from llmops_kit.settings import KafkaSecurity

__all__ = ["decode_erasure", "erasure_handler", "erasure_loop"]


def decode_erasure(message: ConsumedMessage) -> CloudEvent[Any]:
    """A request or receipt (a v1 one upcast to v2); anything else is poison, for the DLQ with its cause."""
    try:
        event = parse_event(message.value)
    except EventValidationError as exc:
        raise PermanentError(f"not an erasure event: {exc}") from exc
    if not isinstance(event.data, ErasureRequested | ErasureProcessed):
        raise PermanentError(f"not an erasure event: {event.type}")
    return event


def erasure_handler(worker: ErasureWorker) -> Callable[[Sequence[Delivery[CloudEvent[Any]]]], Awaitable[None]]:
    """``worker`` as a consumer loop's handler: Kafka or the warehouse failing is transient (retried, uncommitted);
    the warehouse refusing the listing (a key that may not read it) is permanent (the receipt to the DLQ)."""

    async def handle(deliveries: Sequence[Delivery[CloudEvent[Any]]]) -> None:
        try:
            await worker.handle([d.item for d in deliveries])
        except (KafkaError, PlatformCallError) as exc:
            if isinstance(exc, PlatformCallError) and not exc.retryable:
                raise PermanentError(f"the warehouse refused to list the erased calls: {exc}") from exc
            raise TransientError(f"erasing failed for now: {exc}") from exc

    return handle


def erasure_loop(
    worker: ErasureWorker,
    *,
    bootstrap_servers: str,
    group_id: str,
    producer: EventProducer,
    service: str,
    security: KafkaSecurity | None = None,
) -> ConsumerLoop[CloudEvent[Any]]:
    """The consumer of requests and receipts that runs ``worker``; offsets committed after its side effects."""
    return ConsumerLoop(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        topics=[ErasureRequested.topic, ErasureProcessed.topic],
        decode=decode_erasure,
        handle=erasure_handler(worker),
        dead_letters=producer,
        service=service,
        max_batch=50,
        security=security,
    )
