"""``llmops.evaluation.replay_checkpointed.v1``: a replay of stored calls through evaluators, and how far it got.

A replay re-scores history (a time range of the warehouse's calls, or an offset range of
``llmops.calls.recorded``) with evaluators that need not be the ones scoring production: a new evaluator, or a
new version of one. Its record on the compacted topic ``llmops.evaluations.replays`` (keyed
``<tenant>:<replay_id>``) is both its definition and its checkpoint: the evaluation service publishes it after
the scores of each batch were acknowledged, never before, so a replica that restarts (even after ``kill -9``)
resumes from the last record's ``cursor`` or ``next_offsets`` and judges again at most the batch in flight.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, model_validator

from llmops_schemas.v1.common import CompactedPayload, Name, ShortText, Slug, StrictModel

__all__ = ["PartitionOffsets", "ReplayCheckpointed", "ReplayEvaluator"]

MAX_REPLAY_EVALUATORS = 16
MAX_PARTITIONS = 1024


class ReplayEvaluator(StrictModel):
    """One evaluator a replay runs: a built-in ``kind`` with its ``params``; ``version`` is what its scores carry."""

    name: Slug = Field(description="The evaluator's name on its scores (a configured one's, or a new one)")
    kind: Slug = Field(description="The built-in evaluator it runs, e.g. 'json' or 'length'")
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)
    version: Name = Field(description="The version its scores carry (the kind's version and a parameter digest)")


class PartitionOffsets(StrictModel):
    """An offset range of one partition of ``llmops.calls.recorded``: ``start`` included, ``end`` excluded."""

    partition: int = Field(ge=0, lt=MAX_PARTITIONS)
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> PartitionOffsets:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class ReplayCheckpointed(CompactedPayload):
    """A replay's definition and its progress (compacted: the latest record per ``replay_id`` is its state).

    ``source`` ``warehouse`` reads the tenant's calls started in ``[start, end)`` (narrowed by ``app``,
    ``model`` and ``prompt_name``) through the warehouse's query API, newest first; ``cursor`` is where the
    next page starts. ``source`` ``topic`` reads ``ranges`` of ``llmops.calls.recorded`` and keeps only the
    tenant's calls; ``next_offsets`` is where each partition continues. ``processed`` counts the calls read,
    ``scored`` those judged (calls that failed, or of platform origin unless ``include_platform``, are read
    but not judged); ``expected`` is how many calls the source holds, where known.
    """

    event_type: ClassVar[str] = "llmops.evaluation.replay_checkpointed.v1"
    topic: ClassVar[str] = "llmops.evaluations.replays"

    replay_id: Slug
    evaluators: Annotated[list[ReplayEvaluator], Field(min_length=1, max_length=MAX_REPLAY_EVALUATORS)]
    source: Literal["warehouse", "topic"]
    start: AwareDatetime | None = Field(default=None, description="warehouse: calls started at or after")
    end: AwareDatetime | None = Field(default=None, description="warehouse: calls started before")
    app: Name | None = None
    model: Name | None = None
    prompt_name: Name | None = None
    ranges: Annotated[list[PartitionOffsets], Field(max_length=MAX_PARTITIONS)] = Field(default_factory=list)
    include_platform: bool = False
    rate_limit_per_s: float = Field(gt=0, le=1_000_000, description="Most calls judged per second")
    batch_size: int = Field(ge=1, le=10_000, description="Calls judged between two checkpoints")
    status: Literal["running", "completed", "failed", "cancelled"]
    processed: int = Field(default=0, ge=0)
    scored: int = Field(default=0, ge=0)
    expected: int | None = Field(default=None, ge=0)
    cursor: Annotated[str, Field(max_length=1024)] | None = None
    next_offsets: Annotated[list[PartitionOffsets], Field(max_length=MAX_PARTITIONS)] = Field(default_factory=list)
    error: ShortText | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _source_has_its_range(self) -> ReplayCheckpointed:
        if self.source == "warehouse" and (self.start is None or self.end is None):
            raise ValueError("a warehouse replay needs start and end")
        if self.source == "warehouse" and self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.source == "topic" and not self.ranges:
            raise ValueError("a topic replay needs ranges")
        return self

    def entity_key(self) -> str:
        return self.replay_id
