"""The model-backed evaluator kinds: ``llm_judge`` (a score on a rubric) and ``llm_judge_pairwise`` (a call
against its shadow copy).

A model-backed kind is configured like a heuristic (name, app, sampling, parameters validated on write) but
runs in the model stage (:mod:`llmops_evaluation.model_stage`), where it may await the gateway: ``build``
returns its :data:`ModelJudge`, an async function of the call and the stage's ports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from llmops_schemas.v2 import CallRecorded
from llmops_schemas.v2.evaluation import EvaluatorKind
from pydantic import Field, model_validator

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict
from llmops_evaluation.ports import JudgePorts

__all__ = ["JudgeInput", "Judgment", "ModelJudge", "ModelKind", "RubricParams", "RubricPrompt"]


class RubricPrompt(Params):
    """The rubric: a prompt of the gateway's registry, pinned by ``version`` or followed by ``label``."""

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: int | None = Field(strict=True, default=None, ge=1)
    label: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

    @model_validator(mode="after")
    def _label_or_version(self) -> RubricPrompt:
        if (self.version is None) == (self.label is None):
            raise ValueError("give the rubric prompt's version or its label (one of them)")
        return self


class RubricParams(Params):
    """What every judge names: the gateway route that judges, the rubric prompt and the bounds of one call."""

    model: str = Field(min_length=1, max_length=256, description="The judge: a model (route) of the gateway")
    prompt: RubricPrompt
    metric: str = Field(default="judge", min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    max_tokens: int = Field(strict=True, default=256, ge=1, le=4096, description="Most tokens the judge may answer")
    timeout_s: float = Field(strict=True, default=30.0, gt=0, le=300, description="Longest wait for the judge's answer")


@dataclass(frozen=True, slots=True)
class JudgeInput:
    """What a judge judges: the call (of ``tenant``), its answer (with the question and context it answers)
    and the evaluator's name (sent as the judge call's metadata)."""

    tenant: str
    call: CallRecorded
    answer: Answer
    evaluator: str


@dataclass(frozen=True, slots=True)
class Judgment:
    """One metric a judge produced: a score, or (``outcome``) why there is none.

    ``compared_call_id`` is set by pairwise judges (the event then is the pair's, not the call's alone).
    """

    metric: str
    outcome: Literal["scored", "malformed", "error", "timeout"] = "scored"
    score: float | None = None
    score_min: float | None = None
    score_max: float | None = None
    label: str | None = None
    passed: bool | None = None
    explanation: str | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    judge_prompt_version: int | None = None
    call_id: str | None = None
    """The call the judgment is about when it is not the consumed call (a pair is published on the primary)."""
    compared_call_id: str | None = None


ModelJudge = Callable[[JudgeInput, JudgePorts], Awaitable[list[Judgment]]]


class ModelKind(Heuristic):
    """A kind that runs in the model stage: ``build_model(params)`` is its async judge.

    Its ``build`` (the heuristic pass's) is never called: the heuristic pass leaves model-backed evaluators out.
    ``evaluator_kind`` is ``llm_judge`` for the judges, ``semantic`` for the embedding-based kinds.
    """

    stage: ClassVar[str] = "model"
    evaluator_kind: ClassVar[EvaluatorKind] = "llm_judge"

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        def refuse(_: Answer) -> list[Verdict]:
            raise TypeError(f"{cls.kind} runs in the model stage, not the heuristic pass")

        return refuse

    @classmethod
    def build_model(cls, params: Any) -> ModelJudge:
        raise NotImplementedError

    @classmethod
    def route_and_prompt(cls, params: Any) -> tuple[str, RubricPrompt | None]:
        """The gateway route and rubric prompt a configuration names (checked when it is written); a kind that
        sends no rubric (the semantic ones) names its route only."""
        return params.model, params.prompt
