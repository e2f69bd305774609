"""The event rules' input: a kit ``ConsumerLoop`` over the drift, evaluation, budget and alert topics, at least once.

Each record is parsed (older versions upcast); anything that is not an event is poison, dead-lettered to the
topic's DLQ with the cause. A batch's observations go to the engine, which publishes the alert changes and
their outbox records; offsets are committed only after that returned. Until the configuration and the open
alerts are loaded the batch waits uncommitted (judging against part of the rules would miss alerts for good).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v1 import BudgetStateChanged, DriftReported
from llmops_schemas.v2 import AlertStateChanged, EvaluationScored

from llmops_alerting.config import AlertingSettings
from llmops_alerting.engine import Engine
from llmops_alerting.rules import ScoreWindows, observe_event

__all__ = ["SOURCE_TOPICS", "build_consumer", "decode", "handle_events"]

SOURCE_TOPICS = [DriftReported.topic, EvaluationScored.topic, BudgetStateChanged.topic, AlertStateChanged.topic]
"""The event rules' topics; ``llmops.alerts`` for the cost service's spend spikes (the service's own changes
there are read and ignored)."""


def decode(message: ConsumedMessage) -> CloudEvent[Any]:
    """The record as an event; :class:`PermanentError` (dead-lettered) when it is not one."""
    try:
        return parse_event(message.value)
    except EventValidationError as exc:
        raise PermanentError(str(exc)) from None


async def handle_events(events: Sequence[CloudEvent[Any]], engine: Engine, windows: ScoreWindows) -> None:
    """Observe every rule of each event's tenant, then publish the changes (raises on Kafka failures)."""
    if not (engine.config.caught_up and engine.book.caught_up):
        raise TransientError("the alerting configuration or the open alerts are still loading")
    now = engine.clock()
    observations = [
        o for e in events for o in observe_event(e, engine.config.rules(e.tenant_id), windows, engine.spikes, now)
    ]
    try:
        await engine.observe(observations)
    except KafkaError as exc:
        raise TransientError(f"publishing alert changes failed: {exc}") from exc


def build_consumer(settings: AlertingSettings, engine: Engine, dead_letters: EventProducer) -> ConsumerLoop[Any]:
    """The loop over :data:`SOURCE_TOPICS` in the service's consumer group."""
    windows = ScoreWindows(settings.max_window_samples, settings.min_samples)

    async def handle(deliveries: Sequence[Delivery[CloudEvent[Any]]]) -> None:
        await handle_events([d.item for d in deliveries], engine, windows)

    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        topics=SOURCE_TOPICS,
        decode=decode,
        handle=handle,
        dead_letters=dead_letters,
        service="alerting",
        max_batch=settings.batch_size,
        max_wait_ms=settings.batch_wait_ms,
        security=settings.kafka_security,
    )
