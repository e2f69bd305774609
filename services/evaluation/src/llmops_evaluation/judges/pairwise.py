"""``llm_judge_pairwise``: a call against its shadow copy, judged twice with the answers swapped.

The gateway records a shadow deployment's copy as a call of its own (``experiment.shadow``) whose
``metadata.shadow_of`` names the call the application got (the primary). When the copy is consumed, the
primary is read through the warehouse (waiting up to ``primary_wait_s`` for it to be stored: the two are
recorded independently) and the rubric is rendered twice, with ``answer_a``/``answer_b`` in both orders, so
a judge's bias for the first (or second) position cancels: only when both orders prefer the same call is
that a verdict; when they disagree the label is ``inconsistent`` (scored as a tie, 0.5).

The judgment is the primary's: published with ``call_id`` the primary and ``compared_call_id`` the copy;
``score`` is 1 when the primary's answer is preferred, 0 when the copy's, 0.5 for a tie or an inconsistent
pair; ``label`` is ``call``, ``compared``, ``tie`` or ``inconsistent``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from llmops_schemas.v2 import CallRecorded
from pydantic import Field

from llmops_evaluation.judges.kinds import JudgeInput, Judgment, ModelJudge, ModelKind, RubricParams
from llmops_evaluation.judges.parsing import Preference, parse_preference
from llmops_evaluation.judges.pointwise import quoted
from llmops_evaluation.judges.rubric import RubricAnswer, ask_judge, rubric_version
from llmops_evaluation.ports import CallHistory, JudgePorts

__all__ = ["SHADOW_OF", "PairwiseJudge", "PairwiseParams", "PrimaryMissing", "combine", "is_shadow_copy"]

SHADOW_OF = "shadow_of"
"""The metadata key under which the gateway records a shadow copy's primary call id."""
_POLL_S = 0.25
_MAX_EXPLANATION = 4096


class PairwiseParams(RubricParams):
    """A preference between two answers; the rubric gets ``question``, ``context``, ``answer_a``, ``answer_b``."""

    metric: str = Field(default="preference", min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    primary_wait_s: float = Field(
        strict=True, default=10.0, ge=0, le=120, description="How long to wait for the primary call to be stored"
    )


class PrimaryMissing(LookupError):
    """The shadow copy's primary call is not in the warehouse (within the wait)."""


def is_shadow_copy(call: CallRecorded) -> bool:
    """A shadow deployment's copy that names its primary (the calls a pairwise judge takes)."""
    return call.experiment is not None and call.experiment.shadow and SHADOW_OF in call.metadata


class PairwiseJudge(ModelKind):
    """A shadow copy against the call the application got, position-swapped; a preference, or 'inconsistent'."""

    kind = "llm_judge_pairwise"
    version = "1"
    params = PairwiseParams

    @classmethod
    def build_model(cls, params: Any) -> ModelJudge:
        rubric: PairwiseParams = params

        async def judge(job: JudgeInput, ports: JudgePorts) -> list[Judgment]:
            primary = await _primary(ports.history, job, rubric.primary_wait_s)
            version = await rubric_version(ports.gateway, job.tenant, rubric)
            question, context = job.answer.prompt or "", "\n\n".join(job.answer.context)
            first, second = _first_choice(primary), job.answer.text
            common = {"question": question, "context": context}
            ab, ba = await asyncio.gather(
                ask_judge(ports.gateway, job, rubric, {**common, "answer_a": first, "answer_b": second}, version),
                ask_judge(ports.gateway, job, rubric, {**common, "answer_a": second, "answer_b": first}, version),
            )
            judged = combine(rubric, ab, ba)
            return [_about(judged, primary.call_id, job.call.call_id)]

        return judge


def _about(judged: Judgment, call_id: str, compared: str) -> Judgment:
    return dataclasses.replace(judged, call_id=call_id, compared_call_id=compared)


async def _primary(history: CallHistory | None, job: JudgeInput, wait_s: float) -> CallRecorded:
    if history is None:
        raise PrimaryMissing("pairwise judging needs the warehouse (LLMOPS_WAREHOUSE_URL is not set)")
    primary_id = job.call.metadata[SHADOW_OF]
    deadline = time.monotonic() + wait_s
    while True:
        found = await history.call(job.tenant, primary_id)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise PrimaryMissing(f"the primary call {primary_id} is not in the warehouse after {wait_s:g}s")
        await asyncio.sleep(_POLL_S)


def _first_choice(call: CallRecorded) -> str:
    choice = call.choices[0] if call.choices else None
    return (choice.output or choice.refusal or "") if choice is not None else ""


# Preference of each order, in terms of the primary ("call") and the shadow copy ("compared").
_AB = {"A": "call", "B": "compared", "tie": "tie"}
_BA = {"A": "compared", "B": "call", "tie": "tie"}
_SCORE = {"call": 1.0, "compared": 0.0, "tie": 0.5, "inconsistent": 0.5}


def combine(rubric: PairwiseParams, ab: RubricAnswer, ba: RubricAnswer) -> Judgment:
    """Both orders' answers as one judgment: agreed, inconsistent, or malformed when either holds no preference."""
    first, why_first = parse_preference(ab.text)
    second, why_second = parse_preference(ba.text)
    common: dict[str, Any] = {
        "metric": rubric.metric,
        "latency_ms": max(ab.latency_ms, ba.latency_ms),
        "cost_usd": None if ab.cost_usd is None or ba.cost_usd is None else ab.cost_usd + ba.cost_usd,
        "judge_prompt_version": ab.prompt_version,
    }
    if first is None or second is None:
        which, why, text = ("A,B", why_first, ab.text) if first is None else ("B,A", why_second, ba.text)
        return Judgment(
            outcome="malformed", explanation=f"order {which}: {why}; the judge answered {quoted(text)}", **common
        )
    label = _label(first, second)
    explanation = f"order A,B: {ab.text}\n---\norder B,A: {ba.text}"[:_MAX_EXPLANATION]
    return Judgment(score=_SCORE[label], score_min=0.0, score_max=1.0, label=label, explanation=explanation, **common)


def _label(first: Preference, second: Preference) -> str:
    in_first, in_second = _AB[first], _BA[second]
    return in_first if in_first == in_second else "inconsistent"
