"""The model stage's consumer: a second kit ``ConsumerLoop`` over ``llmops.calls.recorded``, in its own group.

Its own group (``EVALUATION_MODEL_CONSUMER_GROUP``) keeps its offsets apart from the heuristic pass's, so a
slow judge delays only judge scores. Batches are small (``EVALUATION_MODEL_BATCH_SIZE``) and handled whole
before the next fetch (back-pressure); offsets are committed after the batch's scores are acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.errors import KafkaError
from llmops_kit.errors import TransientError
from llmops_kit.kafka.consumer import ConsumerLoop, Delivery
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import SERVICE, decode_call
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import EvaluatorLookup

__all__ = ["MODEL_STAGE", "build_model_consumer"]

MODEL_STAGE = f"{SERVICE}-models"


def build_model_consumer(
    settings: EvaluationSettings,
    evaluators: EvaluatorLookup,
    stage: ModelStage,
    out: EventPublisher,
    dead_letters: EventProducer,
) -> ConsumerLoop[CloudEvent[CallRecorded]]:
    """The loop that judges every recorded call its tenant's model-backed evaluators take."""

    async def handle(deliveries: Sequence[Delivery[CloudEvent[CallRecorded]]]) -> None:
        if not evaluators.caught_up:
            raise TransientError("the evaluator configurations are still loading")
        try:
            await stage.score([d.item for d in deliveries], evaluators, out)
        except KafkaError as exc:
            raise TransientError(f"publishing judge scores failed: {exc}") from exc

    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.model_consumer_group,
        topics=[CallRecorded.topic],
        decode=decode_call,
        handle=handle,
        dead_letters=dead_letters,
        # Its own label on the kit's consumer metrics (lag, events in): the two loops share topic and partitions.
        service=MODEL_STAGE,
        max_batch=settings.model_batch_size,
        max_wait_ms=settings.model_batch_wait_ms,
        security=settings.kafka_security,
    )
