"""``llm_judge``: a judge model scores the answer on a rubric from the prompt registry.

The rubric is rendered with ``question`` (the last user message), ``context`` (the call's system and tool
messages, joined) and ``answer``; the judge's text is parsed (:func:`~llmops_evaluation.judges.parsing.parse_score`)
into one score on ``scale_min``..``scale_max``, or recorded as ``malformed`` with what came back.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from llmops_evaluation.judges.kinds import JudgeInput, Judgment, ModelJudge, ModelKind, RubricParams
from llmops_evaluation.judges.parsing import parse_score
from llmops_evaluation.judges.rubric import RubricAnswer, ask_judge, rubric_version
from llmops_evaluation.ports import JudgePorts

__all__ = ["LlmJudge", "PointwiseParams", "quoted"]

_MAX_EXPLANATION = 4096
_MAX_QUOTED = 200


class PointwiseParams(RubricParams):
    """A rubric score: the scale the rubric asks for and, optionally, the score that passes."""

    scale_min: float = Field(strict=True, default=1, ge=0, le=1000)
    scale_max: float = Field(strict=True, default=5, ge=0, le=1000)
    pass_threshold: float | None = Field(strict=True, default=None, description="Scores at or above it pass")

    @model_validator(mode="after")
    def _scale(self) -> PointwiseParams:
        if self.scale_min >= self.scale_max:
            raise ValueError("scale_min must be below scale_max")
        if self.pass_threshold is not None and not self.scale_min <= self.pass_threshold <= self.scale_max:
            raise ValueError("pass_threshold must be on the scale")
        return self


def variables_of(job: JudgeInput) -> dict[str, Any]:
    answer = job.answer
    return {"question": answer.prompt or "", "context": "\n\n".join(answer.context), "answer": answer.text}


def quoted(text: str | None) -> str:
    """The start of a judge's answer, for a malformed item's explanation."""
    if text is None:
        return "no text"
    return repr(text[:_MAX_QUOTED]) + ("..." if len(text) > _MAX_QUOTED else "")


class LlmJudge(ModelKind):
    """A judge model scores the answer with a rubric prompt of the registry (question, context, answer)."""

    kind = "llm_judge"
    version = "1"
    params = PointwiseParams

    @classmethod
    def build_model(cls, params: Any) -> ModelJudge:
        rubric: PointwiseParams = params

        async def judge(job: JudgeInput, ports: JudgePorts) -> list[Judgment]:
            version = await rubric_version(ports.gateway, job.tenant, rubric)
            answer = await ask_judge(ports.gateway, job, rubric, variables_of(job), version)
            return [judgment(rubric, answer)]

        return judge


def judgment(rubric: PointwiseParams, answer: RubricAnswer) -> Judgment:
    """The judge's answer read on the rubric's scale: scored, or malformed with what came back."""
    parsed = parse_score(answer.text, rubric.scale_min, rubric.scale_max)
    common: dict[str, Any] = {
        "metric": rubric.metric,
        "latency_ms": answer.latency_ms,
        "cost_usd": answer.cost_usd,
        "judge_prompt_version": answer.prompt_version,
    }
    if parsed.score is None:
        why = f"{parsed.why}; the judge answered {quoted(answer.text)}"
        return Judgment(outcome="malformed", explanation=why, **common)
    passed = None if rubric.pass_threshold is None else parsed.score >= rubric.pass_threshold
    return Judgment(
        score=parsed.score,
        score_min=rubric.scale_min,
        score_max=rubric.scale_max,
        passed=passed,
        explanation=(answer.text or "")[:_MAX_EXPLANATION],
        **common,
    )
