"""The online scorer: a kit ``ConsumerLoop`` over ``llmops.calls.recorded``, at least once.

Each record is read by the struct derived from the call event, or else parsed by pydantic (v1 calls are upcast
to v2, docs/adr/0030); anything that is not a call event is poison, and the
loop dead-letters it to ``llmops.calls.recorded.dlq`` with the cause. Offsets are committed only after every
score of the batch was acknowledged by Kafka; a redelivered batch scores again under the same event ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaError
from llmops_kit.errors import TransientError
from llmops_kit.kafka.consumer import ConsumedMessage, ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.handlers import ScoringRules, score_calls
from llmops_evaluation.ports import EvaluatorLookup
from llmops_evaluation.wire import CallEvent, decode_call, read_call

__all__ = ["SERVICE", "Stage", "build_consumer", "calls_loop", "decode_call"]

SERVICE = "evaluation"


def scoring_rules(settings: EvaluationSettings) -> ScoringRules:
    return ScoringRules(
        source=settings.source,
        max_output_chars=settings.max_output_chars,
        budget_s=settings.evaluator_budget_s,
        max_in_flight=settings.judge_max_in_flight,
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Stage:
    """One consumer of the calls: its group, its batches and the label of its consumer metrics."""

    group: str
    service: str
    max_batch: int
    max_wait_ms: int
    fetch_partition_bytes: int = 1 << 20
    """Most bytes one fetch brings per partition (aiokafka's default); the heuristic pass asks for more."""


def calls_loop(
    settings: EvaluationSettings,
    stage: Stage,
    evaluators: EvaluatorLookup,
    score: Callable[[Sequence[T]], Awaitable[object]],
    dead_letters: EventProducer,
    decode: Callable[[ConsumedMessage], T],
) -> ConsumerLoop[T]:
    """A loop over ``llmops.calls.recorded`` that runs ``score`` on each batch of calls read by ``decode`` once
    the configuration is loaded (offsets committed only after it returned: its scores were published)."""

    async def handle(deliveries: Sequence[Delivery[T]]) -> None:
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
        decode=decode,
        handle=handle,
        dead_letters=dead_letters,
        service=stage.service,
        max_batch=stage.max_batch,
        max_wait_ms=stage.max_wait_ms,
        security=settings.kafka_security,
        max_partition_fetch_bytes=stage.fetch_partition_bytes,
    )


def build_consumer(
    settings: EvaluationSettings, evaluators: EvaluatorLookup, out: EventPublisher, dead_letters: EventProducer
) -> ConsumerLoop[CallEvent]:
    """The loop that scores every recorded call with the heuristics (offsets committed after the scores); the
    calls are read as derived structs where they can be (:func:`~llmops_evaluation.wire.read_call`)."""
    rules = scoring_rules(settings)
    stage = Stage(
        settings.consumer_group, SERVICE, settings.batch_size, settings.batch_wait_ms, settings.fetch_partition_bytes
    )
    return calls_loop(
        settings, stage, evaluators, lambda calls: score_calls(calls, evaluators, out, rules), dead_letters, read_call
    )
