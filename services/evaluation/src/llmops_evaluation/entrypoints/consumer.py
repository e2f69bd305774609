"""The online scorer: a kit ``ConsumerLoop`` over ``llmops.calls.recorded``, at least once.

Each record is parsed (v1 calls are upcast to v2); anything that is not a call event is poison, and the
loop dead-letters it to ``llmops.calls.recorded.dlq`` with the cause. Offsets are committed only after every
score of the batch was acknowledged by Kafka; a redelivered batch scores again under the same event ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka.errors import KafkaError
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.handlers import ScoringRules, score_calls
from llmops_evaluation.ports import EvaluatorLookup

__all__ = ["SERVICE", "Stage", "build_consumer", "calls_loop", "decode_call"]

SERVICE = "evaluation"


def decode_call(message: ConsumedMessage) -> CloudEvent[CallRecorded]:
    """The call event of ``message``; :class:`PermanentError` (dead-lettered) for anything else."""
    try:
        event = parse_event(message.value, expect=CallRecorded)
    except EventValidationError as exc:
        raise PermanentError(str(exc)) from exc
    if not isinstance(event.data, CallRecorded):
        raise PermanentError(f"{event.type} is not a call event")
    return event


def scoring_rules(settings: EvaluationSettings) -> ScoringRules:
    return ScoringRules(
        source=settings.source,
        max_output_chars=settings.max_output_chars,
        budget_s=settings.evaluator_budget_s,
        max_in_flight=settings.judge_max_in_flight,
    )


Score = Callable[[Sequence[CloudEvent[CallRecorded]]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Stage:
    """One consumer of the calls: its group, its batches and the label of its consumer metrics."""

    group: str
    service: str
    max_batch: int
    max_wait_ms: int


def calls_loop(
    settings: EvaluationSettings, stage: Stage, evaluators: EvaluatorLookup, score: Score, dead_letters: EventProducer
) -> ConsumerLoop[CloudEvent[CallRecorded]]:
    """A loop over ``llmops.calls.recorded`` that runs ``score`` on each batch once the configuration is loaded
    (offsets committed only after it returned: its scores were published)."""

    async def handle(deliveries: Sequence[Delivery[CloudEvent[CallRecorded]]]) -> None:
        if not evaluators.caught_up:
            # Scoring against part of the configuration would skip evaluators for good: wait, uncommitted.
            raise TransientError("the evaluator configurations are still loading")
        try:
            await score([d.item for d in deliveries])
        except KafkaError as exc:
            raise TransientError(f"publishing scores failed: {exc}") from exc

    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=stage.group,
        topics=[CallRecorded.topic],
        decode=decode_call,
        handle=handle,
        dead_letters=dead_letters,
        service=stage.service,
        max_batch=stage.max_batch,
        max_wait_ms=stage.max_wait_ms,
        security=settings.kafka_security,
    )


def build_consumer(
    settings: EvaluationSettings, evaluators: EvaluatorLookup, out: EventPublisher, dead_letters: EventProducer
) -> ConsumerLoop[CloudEvent[CallRecorded]]:
    """The loop that scores every recorded call with the heuristics (offsets committed after the scores)."""
    rules = scoring_rules(settings)
    stage = Stage(settings.consumer_group, SERVICE, settings.batch_size, settings.batch_wait_ms)
    return calls_loop(
        settings, stage, evaluators, lambda calls: score_calls(calls, evaluators, out, rules), dead_letters
    )
