"""``llmops.evaluation.scored.v1``: one metric of one call, judged by a heuristic, an LLM or a person; and
``llmops.evaluation.evaluator_configured.v1``: which evaluator scores which tenant's calls (compacted)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import (
    CompactedPayload,
    Fraction,
    Identifier,
    MediumText,
    Name,
    Score,
    Slug,
    StrictModel,
)

__all__ = ["EvaluationScored", "EvaluatorConfigured", "EvaluatorRef"]


class EvaluatorRef(StrictModel):
    """Which evaluator produced a score, at which version, and what kind of judge it is."""

    name: Name = Field(description="Evaluator name, e.g. 'faithfulness' or 'toxicity-regex'")
    version: Name = Field(description="Evaluator version; scores of different versions are not comparable")
    kind: Literal["heuristic", "llm_judge", "human"]
    judge_model: Name | None = Field(default=None, description="The model that judged (llm_judge only)")

    @model_validator(mode="after")
    def _judge_model_only_for_llm_judges(self) -> EvaluatorRef:
        if self.judge_model is not None and self.kind != "llm_judge":
            raise ValueError("judge_model is only meaningful for kind 'llm_judge'")
        return self


class EvaluationScored(EventPayload):
    """A score of one metric for one call.

    ``score`` is in the evaluator's own scale (``score_min``..``score_max`` when it has one); ``label``
    is an optional category such as ``pass`` or ``hallucination``. The same call, evaluator version and
    metric should always yield the same ``evaluation_id``, so re-running an evaluation is idempotent.
    """

    event_type: ClassVar[str] = "llmops.evaluation.scored.v1"
    topic: ClassVar[str] = "llmops.evaluations.scored"

    evaluation_id: Identifier = Field(description="Idempotency key of this score")
    call_id: Identifier = Field(description="The call (llmops.call.recorded.v1 call_id) that was judged")
    app: Name | None = Field(default=None, description="The call's app, copied for aggregation")
    evaluator: EvaluatorRef
    metric: Name = Field(description="What was measured, e.g. 'relevance'")
    score: Score
    score_min: Score | None = Field(default=None, description="Lowest score of the evaluator's scale, if bounded")
    score_max: Score | None = Field(default=None, description="Highest score of the evaluator's scale, if bounded")
    label: Name | None = None
    passed: bool | None = Field(default=None, description="Whether the score meets the evaluator's threshold")
    explanation: MediumText | None = Field(default=None, description="Why the judge scored so")
    judged_at: AwareDatetime

    @model_validator(mode="after")
    def _score_within_scale(self) -> EvaluationScored:
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            raise ValueError("score_min must not exceed score_max")
        if self.score_min is not None and self.score < self.score_min:
            raise ValueError("score is below score_min")
        if self.score_max is not None and self.score > self.score_max:
            raise ValueError("score is above score_max")
        return self


class EvaluatorConfigured(CompactedPayload):
    """One evaluator configured for a tenant's app (compacted: the latest record per ``name`` wins).

    ``kind`` names a built-in evaluator of the evaluation service (``length``, ``json``, ``regex``...),
    ``params`` its settings, which the service validates against the kind before it publishes. The calls it
    scores are the app's, narrowed to ``prompt_name`` and ``model`` when set, and sampled: a call is scored
    when a hash of its call id falls under ``sampling_rate``, so every replica and every redelivery agrees.
    Calls of platform origin (the platform's own traffic, such as judge calls) are scored only with
    ``include_platform``. A record with ``deleted`` removes the evaluator (its scores stay); it is kept,
    rather than a tombstone, so the history says when the evaluator went away.
    """

    event_type: ClassVar[str] = "llmops.evaluation.evaluator_configured.v1"
    topic: ClassVar[str] = "llmops.evaluations.config"

    name: Slug = Field(description="The evaluator's name within the tenant; scores carry it")
    kind: Slug = Field(description="The built-in evaluator it runs, e.g. 'json' or 'length'")
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)
    app: Name = Field(description="The app whose calls it scores")
    prompt_name: Name | None = Field(default=None, description="Only calls rendered from this prompt")
    model: Name | None = Field(default=None, description="Only calls to this model")
    sampling_rate: Fraction = Field(default=1.0, description="Share of matching calls scored (by call id)")
    include_platform: bool = Field(default=False, description="Also score calls of platform origin")
    enabled: bool = Field(default=True, description="False pauses scoring and keeps the configuration")
    deleted: bool = Field(default=False, description="True removes the evaluator")
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return self.name
