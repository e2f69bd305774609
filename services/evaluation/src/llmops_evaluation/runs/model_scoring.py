"""Model-backed evaluators (LLM judges, semantic kinds) in runs: awaited on each example's answer.

Online, these run in the model stage on recorded calls; a run has no recorded call, only the gateway's answer, so
each is awaited here with the run's answer (the example's input as the question, its passages as the context)
within the evaluator's ``timeout_s``. A judge that fails, times out or answers malformed is an item saying so,
never an exception (as online). The judge call names the run's gateway call as the judged call. Item ids derive
from tenant, run, example, evaluator version and metric, as the heuristics' do, so a redone chunk repeats them.
Judge drift (docs/adr/0051) re-scores an anchor set this way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from llmops_kit.logging import log_unexpected
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v1.runs import RunUpdated
from llmops_schemas.v2 import CallRecorded, ScoreItem

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.heuristics import Answer
from llmops_evaluation.judges import JudgeInput, Judgment
from llmops_evaluation.model_stage import _EXPLAINED, judged_item
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.runs.judging import RUNS_APP

__all__ = ["model_items"]

log = logging.getLogger(__name__)


async def model_items(
    tenant: str,
    run: RunUpdated,
    example_id: str,
    call_id: str,
    answer: Answer,
    evaluators: list[Evaluator],
    ports: JudgePorts,
) -> list[ScoreItem]:
    """Every model-backed evaluator's items on the answer to ``example_id`` (concurrently)."""
    at_ms = int(run.created_at.timestamp() * 1000)

    def ids(evaluator: Evaluator, metric: str) -> str:
        return deterministic_uuid7(at_ms, tenant, run.run_id, example_id, evaluator.name, evaluator.version, metric)

    judged = [e for e in evaluators if e.model_backed]
    call = _call(call_id, run)
    results = await asyncio.gather(*(_one(tenant, call, answer, e, ports) for e in judged))
    return [_item(e, j, ids) for e, judgments in zip(judged, results, strict=True) for j in judgments]


def _call(call_id: str, run: RunUpdated) -> CallRecorded:
    """The judged call as the judge reads it: only its id (the judge call's metadata); a run's answer has no
    recorded call, so nothing else is filled in (and nothing is validated: it is never published)."""
    return CallRecorded.model_construct(
        call_id=call_id, app=RUNS_APP, model=run.variant.model or "", provider="gateway", messages=[],
        started_at=run.created_at, latency_ms=0.0,
    )  # fmt: skip


async def _one(
    tenant: str, call: CallRecorded, answer: Answer, evaluator: Evaluator, ports: JudgePorts
) -> list[Judgment]:
    assert evaluator.model is not None
    timeout_s = float(getattr(evaluator.params, "timeout_s", 30.0))
    job = JudgeInput(tenant, call, answer, evaluator.name)
    try:
        return await asyncio.wait_for(evaluator.model(job, ports), timeout_s)
    except TimeoutError:
        return [Judgment(metric=evaluator.kind, outcome="timeout", explanation=f"no answer within {timeout_s:g}s")]
    except Exception as exc:
        if not isinstance(exc, _EXPLAINED):
            log_unexpected(log, f"evaluator {evaluator.name} failed on run call {call.call_id}", exc)
        why = str(exc)[:1024] if isinstance(exc, _EXPLAINED) else f"the evaluator raised {type(exc).__name__}"
        return [Judgment(metric=evaluator.kind, outcome="error", explanation=why)]


def _item(evaluator: Evaluator, judged: Judgment, ids: Callable[[Evaluator, str], str]) -> ScoreItem:
    return judged_item(evaluator, judged, ids(evaluator, judged.metric), latency_ms=judged.latency_ms)
