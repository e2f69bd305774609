"""The model stage's consumer: a second loop over ``llmops.calls.recorded``, in its own group (docs/adr/0027).

Its own group (``EVALUATION_MODEL_CONSUMER_GROUP``) keeps its offsets apart from the heuristic pass's, so a
slow judge delays only judge scores. Batches are small (``EVALUATION_MODEL_BATCH_SIZE``) and handled whole
before the loop fetches past them (back-pressure); offsets are committed after the batch's scores are
acknowledged.
"""

from __future__ import annotations

from llmops_kit.kafka.consumer import ConsumerLoop
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import SERVICE, Stage, calls_loop, decode_call
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import EvaluatorLookup

__all__ = ["MODEL_STAGE", "build_model_consumer"]

MODEL_STAGE = f"{SERVICE}-models"
"""The label of its consumer metrics (lag, events in): the two loops share the topic and its partitions."""


def build_model_consumer(
    settings: EvaluationSettings,
    evaluators: EvaluatorLookup,
    stage: ModelStage,
    out: EventPublisher,
    dead_letters: EventProducer,
) -> ConsumerLoop[CloudEvent[CallRecorded]]:
    """The loop that judges every recorded call its tenant's model-backed evaluators take."""
    loop = Stage(settings.model_consumer_group, MODEL_STAGE, settings.model_batch_size, settings.model_batch_wait_ms)
    return calls_loop(
        settings, loop, evaluators, lambda calls: stage.score(calls, evaluators, out), dead_letters, decode_call
    )
