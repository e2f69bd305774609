"""The model stage of online scoring: judges (and any evaluator that awaits a model) on recorded calls.

It runs beside the heuristic pass, in a consumer group of its own (``EVALUATION_MODEL_CONSUMER_GROUP``), so
a slow or absent judge never delays the heuristics' scores (docs/adr/0027). For each batch:

* every (call, model-backed evaluator) pair is one run; at most ``max_in_flight`` runs hold a slot at once
  (a semaphore), the others wait for one. The batch is handled whole before the consumer fetches past it,
  so a slow judge slows the fetching (back-pressure): nothing queues beyond the batch in hand;
* each run has its evaluator's ``timeout_s`` from when it gets its slot; past it the run is cancelled and
  recorded as ``timeout``; one that raises is recorded as ``error`` (the gateway's status and reason, or the
  exception's class), a judge answer without a score as ``malformed``; each is counted in
  ``llmops_evaluation_evaluator_failures_total{kind,reason}`` and the call's other evaluators are unaffected;
* one ``llmops.evaluation.scored.v2`` per call (and, for pairwise judgments, per pair), with ids derived from
  the call, the evaluators' names and versions and the metric (:func:`judgment_id`), so a redelivered batch
  republishes the same events and the warehouse keeps one of each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.logging import log_unexpected
from llmops_kit.platform_client import PlatformCallError
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v2 import CallRecorded, EvaluationScored, EvaluatorRef, ScoreItem
from llmops_schemas.v2.evaluation import MAX_SCORES

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.handlers import ScoringRules, answer_of
from llmops_evaluation.heuristics import Answer
from llmops_evaluation.judges import JudgeInput, Judgment
from llmops_evaluation.judges.pairwise import SHADOW_OF, PairwiseJudge, PrimaryMissing
from llmops_evaluation.judges.rubric import UnknownRubric
from llmops_evaluation.metrics import EVALUATOR_FAILURES, EVALUATOR_SECONDS, JUDGES_IN_FLIGHT, SCORES
from llmops_evaluation.ports import EvaluatorLookup, JudgePorts
from llmops_evaluation.semantic.kinds import NoEmbedder

__all__ = ["ModelStage", "judged_answer", "judgment_id"]

log = logging.getLogger(__name__)
_EXPLAINED = (PlatformCallError, UnknownRubric, PrimaryMissing, NoEmbedder)
"""Failures whose message is ours or the gateway's reason (never the judged text): recorded as they are."""


def judged_answer(call: CallRecorded, cap: int) -> Answer:
    """The call's answer with what it answers: ``prompt`` the last user message, ``context`` the system,
    developer and tool messages (each at most ``cap`` characters)."""
    answer = answer_of(call, cap)
    users = [m.text()[:cap] for m in call.messages if m.role == "user"]
    context = tuple(m.text()[:cap] for m in call.messages if m.role in ("system", "developer", "tool") and m.content)
    return dataclasses.replace(answer, prompt=users[-1] if users else None, context=context)


def judgment_id(tenant: str, call: CallRecorded, evaluator: Evaluator, judged: Judgment) -> str:
    """The deterministic id of one judgment: call (and compared call), evaluator name and version, metric and the
    rubric version that judged (a moved label judges anew, beside the old score)."""
    started_ms = int(call.started_at.timestamp() * 1000)
    about = judged.call_id or call.call_id
    parts = [about, judged.compared_call_id or "", evaluator.name, evaluator.version, judged.metric]
    return deterministic_uuid7(started_ms, tenant, *parts, f"p{judged.judge_prompt_version or 0}")


Pair = tuple[str, str | None]
"""The call a judgment is about, and the call it was compared with (pairwise)."""


@dataclass(slots=True)
class _Pass:
    items: list[ScoreItem] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)


class ModelStage:
    """Runs the model-backed evaluators of calls, bounded, and publishes their passes."""

    def __init__(self, ports: JudgePorts, rules: ScoringRules) -> None:
        self._ports = ports
        self._rules = rules
        self._slots = asyncio.Semaphore(rules.max_in_flight)

    async def score(
        self, calls: Sequence[CloudEvent[CallRecorded]], evaluators: EvaluatorLookup, out: EventPublisher
    ) -> int:
        """Judge ``calls`` with their model-backed evaluators; publish one event per call (or pair); the scores
        published."""
        runs = [
            (call, evaluator)
            for call in calls
            if call.data.status == "ok"
            for evaluator in evaluators.for_call(call.tenant_id, call.data)
            if evaluator.model_backed
        ]
        if not runs:
            return 0
        results = await asyncio.gather(*(self._run(call, evaluator) for call, evaluator in runs))
        events, kinds = self._events(runs, results)
        await out.publish_many(events)
        for kind, count in kinds.items():
            SCORES.labels(kind).inc(count)
        return sum(kinds.values())

    async def _run(self, call: CloudEvent[CallRecorded], evaluator: Evaluator) -> list[ScoreItem]:
        """One evaluator on one call, in a slot, within its timeout; a failure is an item, never raised."""
        assert evaluator.model is not None
        job = JudgeInput(
            call.tenant_id, call.data, judged_answer(call.data, self._rules.max_output_chars), evaluator.name
        )
        timeout_s = float(getattr(evaluator.params, "timeout_s", 30.0))
        async with self._slots:
            JUDGES_IN_FLIGHT.inc()
            started = time.perf_counter()
            try:
                judged = await asyncio.wait_for(evaluator.model(job, self._ports), timeout_s)
            except TimeoutError:
                judged = [self._failed(call, evaluator, "timeout", f"no answer within its {timeout_s:g}s timeout")]
            except Exception as exc:
                judged = [self._failed(call, evaluator, "error", self._why(evaluator, call, exc))]
            finally:
                JUDGES_IN_FLIGHT.dec()
            elapsed_ms = (time.perf_counter() - started) * 1000
        EVALUATOR_SECONDS.observe(evaluator.kind, elapsed_ms / 1000)
        return [self._item(call, evaluator, j, elapsed_ms) for j in judged]

    def _why(self, evaluator: Evaluator, call: CloudEvent[CallRecorded], exc: Exception) -> str:
        if isinstance(exc, _EXPLAINED):
            return str(exc)[:1024]
        log_unexpected(log, f"evaluator {evaluator.name} failed on call {call.data.call_id}", exc)
        return f"the evaluator raised {type(exc).__name__}"

    def _failed(
        self, call: CloudEvent[CallRecorded], evaluator: Evaluator, outcome: Literal["error", "timeout"], why: str
    ) -> Judgment:
        """A run that produced no judgment: about the call, or for a pairwise judge the pair it was to judge."""
        about, compared = call.data.call_id, None
        if evaluator.heuristic is PairwiseJudge and SHADOW_OF in call.data.metadata:
            about, compared = call.data.metadata[SHADOW_OF], call.data.call_id
        return Judgment(
            metric=evaluator.kind, outcome=outcome, explanation=why, call_id=about, compared_call_id=compared
        )

    def _item(
        self, call: CloudEvent[CallRecorded], evaluator: Evaluator, judged: Judgment, elapsed_ms: float
    ) -> ScoreItem:
        if judged.outcome != "scored":
            EVALUATOR_FAILURES.labels(evaluator.kind, judged.outcome).inc()
        score_id = judgment_id(call.tenant_id, call.data, evaluator, judged)
        return judged_item(
            evaluator, judged, score_id, latency_ms=judged.latency_ms if judged.latency_ms is not None else elapsed_ms
        )

    def _events(
        self, runs: Sequence[tuple[CloudEvent[CallRecorded], Evaluator]], results: Sequence[list[ScoreItem]]
    ) -> tuple[list[CloudEvent[EvaluationScored]], Counter[str]]:
        passes: dict[tuple[str, Pair], _Pass] = defaultdict(_Pass)
        calls: dict[str, CloudEvent[CallRecorded]] = {}
        kinds: Counter[str] = Counter()
        for (call, evaluator), items in zip(runs, results, strict=True):
            calls[call.id] = call
            for item, pair in zip(items, self._pairs(call, evaluator, items), strict=True):
                entry = passes[(call.id, pair)]
                entry.items.append(item)
                entry.versions.add(f"{evaluator.name}@{evaluator.version}")
                kinds[evaluator.kind] += int(item.outcome == "scored")
        now = self._rules.clock()
        events = [self._event(calls[event_id], pair, entry, now) for (event_id, pair), entry in passes.items()]
        return events, kinds

    @staticmethod
    def _pairs(call: CloudEvent[CallRecorded], evaluator: Evaluator, items: list[ScoreItem]) -> list[Pair]:
        if evaluator.heuristic is PairwiseJudge and SHADOW_OF in call.data.metadata:
            return [(call.data.metadata[SHADOW_OF], call.data.call_id)] * len(items)
        return [(call.data.call_id, None)] * len(items)

    def _event(
        self, call: CloudEvent[CallRecorded], pair: Pair, entry: _Pass, now: datetime
    ) -> CloudEvent[EvaluationScored]:
        data = call.data
        about, compared = pair
        started_ms = int(data.started_at.timestamp() * 1000)
        event_id = deterministic_uuid7(
            started_ms, call.tenant_id, about, compared or "", "model-pass", *sorted(entry.versions)
        )
        payload = EvaluationScored(
            evaluation_id=event_id,
            call_id=about,
            compared_call_id=compared,
            app=data.app,
            scores=entry.items[:MAX_SCORES],
            judged_at=now,
        )
        event = CloudEvent.wrap(
            payload,
            source=self._rules.source,
            tenant_id=call.tenant_id,
            event_id=event_id,
            subject=about,
            trace_id=call.trace_id,
        )
        return event.model_copy(update={"time": data.started_at})


def judged_item(evaluator: Evaluator, judged: Judgment, score_id: str, *, latency_ms: float | None) -> ScoreItem:
    """A model evaluator's judgment as a score item (the judge's prompt version, when it resolved one, in its ref);
    shared by the online stage and offline runs."""
    ref = evaluator.ref
    if judged.judge_prompt_version is not None:
        ref = EvaluatorRef.model_validate({**ref.model_dump(), "judge_prompt_version": judged.judge_prompt_version})
    return ScoreItem(
        score_id=score_id,
        evaluator=ref,
        metric=judged.metric,
        outcome=judged.outcome,
        score=judged.score,
        score_min=judged.score_min,
        score_max=judged.score_max,
        label=judged.label,
        passed=judged.passed,
        explanation=judged.explanation,
        latency_ms=latency_ms,
        cost_usd=judged.cost_usd,
    )
