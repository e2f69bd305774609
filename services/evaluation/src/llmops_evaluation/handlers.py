"""Online scoring: every recorded call judged by the evaluators its tenant configured, each score one event.

A score's event id derives from the tenant, call id, evaluator name, evaluator version and metric
(:func:`score_id`), and its envelope time is the call's start, so a redelivered call yields byte-identical
ids and the warehouse keeps one row per score. An evaluator that raises, or that overruns its time budget,
yields no score: the failure is counted (``llmops_evaluation_evaluator_failures_total{kind,reason}``) and
logged by class only, and the call's other evaluators score as usual (docs/adr/0020).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.logging import log_unexpected
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v1 import EvaluationScored
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.heuristics import Answer, Verdict
from llmops_evaluation.metrics import EVALUATOR_FAILURES, EVALUATOR_SECONDS, SCORES
from llmops_evaluation.ports import EvaluatorLookup

__all__ = ["ScoringRules", "answer_of", "score_calls", "score_id"]

log = logging.getLogger(__name__)
_MAX_EXPLANATION = 16_384


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """The bounds of scoring: the answer text judged, and each evaluator's time budget per call."""

    source: str = "/services/evaluation"
    max_output_chars: int = 262_144
    budget_s: float = 0.25
    clock: Callable[[], datetime] = _utcnow


Job = tuple[CloudEvent[CallRecorded], list[Evaluator]]


def answer_of(call: CallRecorded, cap: int) -> Answer:
    """The first choice's answer (the one the application returned), capped at ``cap`` characters."""
    choice = call.choices[0] if call.choices else None
    output = choice.output if choice is not None else None
    refused = choice is not None and bool(choice.refusal)
    return Answer.of(output if output is not None else (choice.refusal if choice else None), cap=cap, refused=refused)


def score_id(tenant: str, call: CallRecorded, evaluator: Evaluator, metric: str) -> str:
    """The deterministic event id of one score (also its ``evaluation_id``)."""
    started_ms = int(call.started_at.timestamp() * 1000)
    return deterministic_uuid7(started_ms, tenant, call.call_id, evaluator.name, evaluator.version, metric)


async def score_calls(
    calls: Sequence[CloudEvent[CallRecorded]], evaluators: EvaluatorLookup, out: EventPublisher, rules: ScoringRules
) -> int:
    """Score ``calls`` and publish every score together; returns how many were published.

    Which evaluators apply is decided here, on the event loop (where the configuration changes); the judging
    runs in one worker thread per batch, so a long batch never stalls the API or the probes. Calls that
    failed (``status: error``) have no answer and are not scored.
    """
    jobs: list[Job] = []
    for call in calls:
        if call.data.status == "ok":
            chosen = evaluators.for_call(call.tenant_id, call.data)
            if chosen:
                jobs.append((call, chosen))
    if not jobs:
        return 0
    events, kinds = await asyncio.to_thread(_judge_all, jobs, rules)
    if events:
        await out.publish_many(events)
        for kind, count in kinds.items():
            SCORES.labels(kind).inc(count)
    return len(events)


def _judge_all(jobs: Sequence[Job], rules: ScoringRules) -> tuple[list[CloudEvent[EvaluationScored]], Counter[str]]:
    now = rules.clock()
    events: list[CloudEvent[EvaluationScored]] = []
    kinds: Counter[str] = Counter()
    for call, chosen in jobs:
        answer = answer_of(call.data, rules.max_output_chars)
        for evaluator in chosen:
            verdicts = _run(evaluator, answer, call, rules.budget_s)
            events.extend(_event(call, evaluator, v, now, rules.source) for v in verdicts)
            kinds[evaluator.kind] += len(verdicts)
    return events, kinds


def _run(evaluator: Evaluator, answer: Answer, call: CloudEvent[CallRecorded], budget_s: float) -> list[Verdict]:
    """One evaluator on one call, isolated: a failure or an overrun is counted and yields nothing."""
    started = time.perf_counter()
    try:
        verdicts = evaluator.judge(answer)
    except Exception as exc:
        EVALUATOR_FAILURES.labels(evaluator.kind, "error").inc()
        log_unexpected(log, f"evaluator {evaluator.name} failed on call {call.data.call_id}", exc)
        return []
    elapsed = time.perf_counter() - started
    EVALUATOR_SECONDS.labels(evaluator.kind).observe(elapsed)
    if elapsed > budget_s:
        # A heuristic cannot be pre-empted (its input and its patterns are bounded instead); a late result is
        # dropped so that scores never depend on how loaded the machine was.
        EVALUATOR_FAILURES.labels(evaluator.kind, "timeout").inc()
        log.warning("evaluator %s overran its %.3fs budget on call %s", evaluator.name, budget_s, call.data.call_id)
        return []
    return verdicts


def _event(
    call: CloudEvent[CallRecorded], evaluator: Evaluator, verdict: Verdict, now: datetime, source: str
) -> CloudEvent[EvaluationScored]:
    data = call.data
    event_id = score_id(call.tenant_id, data, evaluator, verdict.metric)
    payload = EvaluationScored(
        evaluation_id=event_id,
        call_id=data.call_id,
        app=data.app,
        evaluator=evaluator.ref,
        metric=verdict.metric,
        score=verdict.score,
        score_min=verdict.score_min,
        score_max=verdict.score_max,
        label=verdict.label,
        passed=verdict.passed,
        explanation=verdict.explanation[:_MAX_EXPLANATION] if verdict.explanation else None,
        judged_at=now,
    )
    event = CloudEvent.wrap(
        payload,
        source=source,
        tenant_id=call.tenant_id,
        event_id=event_id,
        subject=data.call_id,
        trace_id=call.trace_id,
    )
    return event.model_copy(update={"time": data.started_at})
