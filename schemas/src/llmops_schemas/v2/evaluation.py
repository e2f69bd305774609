"""``llmops.evaluation.scored.v2``: the scores of one evaluation pass over one call, in one event.

Against v1 (one metric per event, docs/adr/0025) v2:

* batches the scores of one pass (every heuristic of a call, or one judge's metrics) into ``scores``, so the
  warehouse stores one row per call and pass rather than one per metric (the online scorer publishes about
  six scores per call; the calls themselves arrive at thousands per second);
* records failures beside scores: an item's ``outcome`` is ``scored``, or ``malformed`` (a judge answered
  but no score could be read), ``error`` or ``timeout``, and only a scored item carries a ``score``;
* names more kinds of evaluator (``reference``, ``semantic``) and, for LLM judges, the rubric prompt and its
  version beside the judge model;
* says what was compared (``compared_call_id``: a pairwise judgment of the call against, say, its shadow copy)
  and where the call came from (``run_id`` and ``example_id`` of an offline run, ``replay_id`` of a replay);
* carries each item's latency and, where a judge ran, its cost.

A v1 event is one scored item: the upcaster (:mod:`llmops_schemas.upcasters`) builds it with
:meth:`EvaluationScored.from_v1`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import evaluation as v1
from llmops_schemas.v1.common import Identifier, MediumText, Name, NonNegativeScore, Score, StrictModel

__all__ = ["EVALUATOR_KINDS", "OUTCOMES", "EvaluationScored", "EvaluatorRef", "ScoreItem"]

EvaluatorKind = Literal["heuristic", "reference", "semantic", "llm_judge", "human"]
EVALUATOR_KINDS: tuple[str, ...] = ("heuristic", "reference", "semantic", "llm_judge", "human")
Outcome = Literal["scored", "malformed", "error", "timeout"]
OUTCOMES: tuple[str, ...] = ("scored", "malformed", "error", "timeout")
MAX_SCORES = 256
"""The most items one event carries (a pass of every configured evaluator with a few metrics each)."""


class EvaluatorRef(StrictModel):
    """Which evaluator produced a score, at which version, and what kind of judge it is.

    ``heuristic`` judges the answer alone, ``reference`` against an expected answer, ``semantic`` through
    embeddings (similarity, groundedness), ``llm_judge`` by asking a model with a rubric prompt, ``human`` is a
    reviewer. An LLM judge names its model and, when the rubric came from the prompt registry, the prompt's
    name and version: a score is only comparable with scores of the same judge, prompt and version.
    """

    name: Name = Field(description="Evaluator name, e.g. 'faithfulness' or 'json-valid'")
    version: Name = Field(description="Evaluator version; scores of different versions are not comparable")
    kind: EvaluatorKind
    judge_model: Name | None = Field(default=None, description="The model that judged (llm_judge only)")
    judge_prompt: Name | None = Field(default=None, description="The rubric's prompt name (llm_judge only)")
    judge_prompt_version: int | None = Field(
        default=None, ge=1, le=2**32 - 1, description="The rubric prompt's version (llm_judge only)"
    )

    @model_validator(mode="after")
    def _judge_fields_only_for_llm_judges(self) -> EvaluatorRef:
        # Spelt out rather than any() over a tuple: the warehouse runs this for every item of every pass it stores.
        judged = self.judge_model is not None or self.judge_prompt is not None or self.judge_prompt_version is not None
        if judged and self.kind != "llm_judge":
            raise ValueError("judge_model, judge_prompt and judge_prompt_version are only for kind 'llm_judge'")
        if self.judge_prompt_version is not None and self.judge_prompt is None:
            raise ValueError("judge_prompt_version needs judge_prompt")
        return self


class ScoreItem(StrictModel):
    """One metric of one evaluator on the call: a score, or why there is none.

    ``score_id`` derives from the tenant, the call (and the compared call), the evaluator's name and version
    and the metric, so the same judgment always has the same id, whichever event carried it. ``score`` is in
    the evaluator's own scale (``score_min``..``score_max`` when it has one) and present exactly when
    ``outcome`` is ``scored``; a judge's answer that held no score is ``malformed`` (its explanation says
    what came back), never a guessed score.
    """

    score_id: Identifier = Field(description="Idempotency key of this judgment")
    evaluator: EvaluatorRef
    metric: Name = Field(description="What was measured, e.g. 'relevance' or 'json_valid'")
    outcome: Outcome = "scored"
    score: Score | None = None
    score_min: Score | None = Field(default=None, description="Lowest score of the evaluator's scale, if bounded")
    score_max: Score | None = Field(default=None, description="Highest score of the evaluator's scale, if bounded")
    label: Name | None = Field(default=None, description="A category such as 'pass' or 'hallucination'")
    passed: bool | None = Field(default=None, description="Whether the score meets the evaluator's threshold")
    explanation: MediumText | None = Field(default=None, description="Why the judge scored so, or what failed")
    latency_ms: NonNegativeScore | None = Field(default=None, description="How long the evaluator took")
    cost_usd: NonNegativeScore | None = Field(default=None, description="What the judge's calls cost, if known")

    @model_validator(mode="after")
    def _score_matches_outcome(self) -> ScoreItem:
        if (self.outcome == "scored") != (self.score is not None):
            raise ValueError("a score is present exactly when outcome is 'scored'")
        if self.outcome != "scored" and self.passed is not None:
            raise ValueError("only a scored item passes or fails")
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            raise ValueError("score_min must not exceed score_max")
        if self.score is not None and self.score_min is not None and self.score < self.score_min:
            raise ValueError("score is below score_min")
        if self.score is not None and self.score_max is not None and self.score > self.score_max:
            raise ValueError("score is above score_max")
        return self


class EvaluationScored(EventPayload):
    """The scores of one evaluation pass over one call (or one pair of calls).

    ``evaluation_id`` names the pass: it derives from the tenant, the call and the evaluators (names and
    versions) of the pass, so a redelivered call yields the same event and the warehouse keeps it once.
    Readers that want one row per judgment key on each item's ``score_id``.
    """

    event_type: ClassVar[str] = "llmops.evaluation.scored.v2"
    topic: ClassVar[str] = "llmops.evaluations.scored"

    evaluation_id: Identifier = Field(description="Idempotency key of this pass")
    call_id: Identifier = Field(description="The call (llmops.call.recorded call_id) that was judged")
    compared_call_id: Identifier | None = Field(
        default=None, description="Pairwise judgments: the call it was compared with (e.g. its shadow copy)"
    )
    app: Name | None = Field(default=None, description="The call's app, copied for aggregation")
    run_id: Identifier | None = Field(default=None, description="The offline run the call belongs to, if any")
    example_id: Identifier | None = Field(default=None, description="The run's dataset example, if any")
    replay_id: Identifier | None = Field(default=None, description="The replay that re-scored a stored call")
    scores: Annotated[list[ScoreItem], Field(min_length=1, max_length=MAX_SCORES)]
    judged_at: AwareDatetime

    @model_validator(mode="after")
    def _example_needs_run(self) -> EvaluationScored:
        if self.example_id is not None and self.run_id is None:
            raise ValueError("example_id needs run_id")
        if self.compared_call_id is not None and self.compared_call_id == self.call_id:
            raise ValueError("compared_call_id must differ from call_id")
        return self

    @classmethod
    def from_v1(cls, old: v1.EvaluationScored) -> EvaluationScored:
        """The v1 score as a pass of one scored item, whose ``score_id`` is the v1 ``evaluation_id``."""
        ref = old.evaluator
        item = ScoreItem(
            score_id=old.evaluation_id,
            evaluator=EvaluatorRef(name=ref.name, version=ref.version, kind=ref.kind, judge_model=ref.judge_model),
            metric=old.metric,
            score=old.score,
            score_min=old.score_min,
            score_max=old.score_max,
            label=old.label,
            passed=old.passed,
            explanation=old.explanation,
        )
        return cls(
            evaluation_id=old.evaluation_id,
            call_id=old.call_id,
            app=old.app,
            scores=[item],
            judged_at=old.judged_at,
        )
