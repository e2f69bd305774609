"""``llmops.evaluation.scored.v1``: one metric of one call, judged by a heuristic, an LLM or a person."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Identifier, MediumText, Name, Score, StrictModel

__all__ = ["EvaluationScored", "EvaluatorRef"]


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
