"""Online scoring: every recorded call judged by the evaluators its tenant configured, each score one event.

One ``llmops.evaluation.scored.v2`` per call carries every score of its pass (docs/adr/0025). The event id
derives from the tenant, call id and the evaluators' names and versions (:func:`pass_id`), each score's id
from the tenant, call id, evaluator name, version and metric (:func:`score_id`), and the envelope time is
the call's start, so a redelivered call yields identical ids and the warehouse keeps one row per pass. An
evaluator that raises, or that overruns its time budget, yields an item with outcome ``error`` or
``timeout`` and no score: the failure is recorded, counted
(``llmops_evaluation_evaluator_failures_total{kind,reason}``) and logged by class only, and the call's other
evaluators score as usual (docs/adr/0020).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from llmops_kit.kafka.producer import EncodedEvent
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.logging import log_unexpected
from llmops_schemas.ids import IdFamily
from llmops_schemas.v2 import CallRecorded, ScoreItem
from llmops_schemas.v2.evaluation import MAX_SCORES

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.heuristics import Answer, Verdict
from llmops_evaluation.kind_seconds import Tally
from llmops_evaluation.metrics import EVALUATOR_FAILURES, EVALUATOR_SECONDS, SCORES
from llmops_evaluation.ports import EvaluatorLookup
from llmops_evaluation.wire import CallEvent, encode_pass, scored_item, verdict_fields, wire_item

__all__ = ["MAX_PROMPT_CHARS", "ScoringRules", "answer_of", "judge_isolated", "pass_id", "score_calls", "score_id"]

log = logging.getLogger(__name__)
MAX_PROMPT_CHARS = 8192
"""Characters of the prompt an evaluator reads (the language check needs far fewer; judges read it all)."""

T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """The bounds of scoring: the answer text judged, each heuristic's time budget per call, and the model
    stage's runs in flight at once."""

    source: str = "/services/evaluation"
    max_output_chars: int = 262_144
    budget_s: float = 0.25
    clock: Callable[[], datetime] = _utcnow
    max_in_flight: int = 16
    replay_id: str | None = None
    """Set by a replay: its passes carry it, and their ids derive from it (they stand beside the online ones)."""


Job = tuple[CallEvent, list[Evaluator]]


def answer_of(call: CallRecorded, cap: int, prompt_cap: int = MAX_PROMPT_CHARS) -> Answer:
    """The first choice's answer (the one the application returned), capped at ``cap`` characters, with the
    question it answers: the call's last user message, its first ``prompt_cap`` characters."""
    choice = call.choices[0] if call.choices else None
    output = choice.output if choice is not None else None
    refused = choice is not None and bool(choice.refusal)
    asked = next((_text_of(m) for m in reversed(call.messages) if m.role == "user"), None)
    text = output if output is not None else (choice.refusal if choice else None)
    return Answer.of(text, cap=cap, refused=refused, prompt=asked[:prompt_cap] if asked else None)


def _text_of(message: Any) -> str:
    """A message's text, as ``ChatMessage.text`` has it, of the pydantic model or of its derived struct (the
    online scorer decodes calls to structs, which carry the fields but not the model's methods)."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(part.text for part in content if getattr(part, "type", None) == "text")


def score_id(tenant: str, call: CallRecorded, evaluator: Evaluator, metric: str) -> str:
    """The deterministic id of one judgment (an item's ``score_id``)."""
    return _ids_of(tenant, call).id(evaluator.name, evaluator.version, metric)


def _ids_of(tenant: str, call: CallRecorded) -> IdFamily:
    """The ids of one call's pass and items: one hashed prefix (tenant, call id) for all of them."""
    return IdFamily(int(call.started_at.timestamp() * 1000), tenant, call.call_id)


def pass_id(tenant: str, call: CallRecorded, evaluators: Sequence[Evaluator], replay_id: str | None = None) -> str:
    """The deterministic id of one pass (the event's ``evaluation_id``): the call, its evaluators' versions and,
    for a replay, the replay's id."""
    return _pass_id(_ids_of(tenant, call), evaluators, replay_id)


def _pass_id(ids: IdFamily, evaluators: Sequence[Evaluator], replay_id: str | None) -> str:
    versions = sorted(f"{e.name}@{e.version}" for e in evaluators)
    replayed = ("replay", replay_id) if replay_id is not None else ()
    return ids.id("pass", *versions, *replayed)


async def score_calls(
    calls: Sequence[CallEvent], evaluators: EvaluatorLookup, out: EventPublisher, rules: ScoringRules
) -> int:
    """Score ``calls`` and publish one event per call with every score of its pass; returns the scores published.

    Which evaluators apply is decided here, on the event loop (where the configuration changes); the judging
    runs in one worker thread per batch, so a long batch never stalls the API or the probes. Calls that
    failed (``status: error``) have no answer and are not scored. The calls may be derived structs or pydantic
    events (:mod:`llmops_evaluation.wire`); the passes are built and serialised as structs either way.
    """
    jobs: list[Job] = []
    for call in calls:
        if call.data.status == "ok":
            # Judges run in the model stage (their own consumer group): this pass stays fast.
            chosen = [e for e in evaluators.for_call(call.tenant_id, call.data) if not e.model_backed]
            if chosen:
                jobs.append((call, chosen))
    if not jobs:
        return 0
    events, kinds = await asyncio.to_thread(_judge_all, jobs, rules)
    if events:
        await out.publish_encoded(events)
        for kind, count in kinds.items():
            SCORES.labels(kind).inc(count)
    return sum(kinds.values())


def _judge_all(jobs: Sequence[Job], rules: ScoringRules) -> tuple[list[EncodedEvent], Counter[str]]:
    now = rules.clock()
    events: list[EncodedEvent] = []
    kinds: Counter[str] = Counter()
    seconds = EVALUATOR_SECONDS.tally()  # the batch's latencies, added to the histogram under one lock
    for call, chosen in jobs:
        answer = answer_of(call.data, rules.max_output_chars)
        items: list[Any] = []
        ids = _ids_of(call.tenant_id, call.data)
        subject = f"call {call.data.call_id}"
        for evaluator in chosen:
            scored = _judged(evaluator, answer, rules.budget_s, subject, _item_ids(ids, evaluator), _STRUCTS, seconds)
            items.extend(scored)
            if scored and scored[0].outcome == "scored":  # a failure is one item, never beside scores
                kinds[evaluator.kind] += len(scored)
        if items:  # every evaluator may abstain (no reference, no language to tell): then there is no pass
            events.append(_encoded(call, chosen, items, ids, now, rules))
    EVALUATOR_SECONDS.add(seconds)
    return events, kinds


def _item_ids(ids: IdFamily, evaluator: Evaluator) -> Callable[[str], str]:
    return lambda metric: ids.id(evaluator.name, evaluator.version, metric)


@dataclass(frozen=True, slots=True)
class _Makers(Generic[T]):
    """How items are built: ``scored(evaluator, score_id, verdict, latency_ms)`` for each verdict, ``failed(evaluator,
    **fields)`` for a failure; as pydantic models (runs) or as the derived structs the online pass publishes."""

    scored: Callable[[Evaluator, str, Verdict, float], T]
    failed: Callable[..., T]


def _model_scored(evaluator: Evaluator, item_id: str, verdict: Verdict, latency_ms: float) -> ScoreItem:
    return ScoreItem(evaluator=evaluator.ref, **verdict_fields(item_id, verdict, latency_ms))


def _model_item(evaluator: Evaluator, **fields: Any) -> ScoreItem:
    return ScoreItem(evaluator=evaluator.ref, **fields)


_MODELS = _Makers(_model_scored, _model_item)
_STRUCTS = _Makers(scored_item, wire_item)


def judge_isolated(
    evaluator: Evaluator, answer: Answer, budget_s: float, subject: str, ids: Callable[[str], str]
) -> list[ScoreItem]:
    """One evaluator on one answer, isolated: a failure or an overrun is counted and recorded as such.

    ``subject`` names what was judged in logs (never its text); ``ids(metric)`` is the item's deterministic id.
    """
    seconds = EVALUATOR_SECONDS.tally()
    items = _judged(evaluator, answer, budget_s, subject, ids, _MODELS, seconds)
    EVALUATOR_SECONDS.add(seconds)
    return items


def _judged(
    evaluator: Evaluator,
    answer: Answer,
    budget_s: float,
    subject: str,
    ids: Callable[[str], str],
    make: _Makers[T],
    seconds: Tally,
) -> list[T]:
    """:func:`judge_isolated`, the items built by ``make``, the latency counted in ``seconds``."""
    started = time.perf_counter()
    try:
        verdicts = evaluator.judge(answer)
    except Exception as exc:
        EVALUATOR_FAILURES.labels(evaluator.kind, "error").inc()
        log_unexpected(log, f"evaluator {evaluator.name} failed on {subject}", exc)
        why = f"the evaluator raised {type(exc).__name__}"
        return [make.failed(evaluator, **_failure(ids(evaluator.kind), evaluator, "error", why, started))]
    elapsed = time.perf_counter() - started
    seconds.observe(evaluator.kind, elapsed)
    if elapsed > budget_s:
        # A heuristic cannot be pre-empted (its input and its patterns are bounded instead); a late result is
        # dropped so that scores never depend on how loaded the machine was.
        EVALUATOR_FAILURES.labels(evaluator.kind, "timeout").inc()
        log.warning("evaluator %s overran its %.3fs budget on %s", evaluator.name, budget_s, subject)
        why = f"over its {budget_s:g}s budget"
        return [make.failed(evaluator, **_failure(ids(evaluator.kind), evaluator, "timeout", why, started))]
    latency_ms = elapsed * 1000
    return [make.scored(evaluator, ids(v.metric), v, latency_ms) for v in verdicts]


def _failure(
    item_id: str, evaluator: Evaluator, outcome: Literal["error", "timeout"], why: str, started: float
) -> dict[str, Any]:
    """A failed evaluator's record: its metric is the evaluator's kind (it produced none of its own)."""
    return {
        "score_id": item_id,
        "metric": evaluator.kind,
        "outcome": outcome,
        "explanation": why,
        "latency_ms": (time.perf_counter() - started) * 1000,
    }


def _encoded(
    call: CallEvent,
    chosen: Sequence[Evaluator],
    items: list[Any],
    ids: IdFamily,
    now: datetime,
    rules: ScoringRules,
) -> EncodedEvent:
    event_id = _pass_id(ids, chosen, rules.replay_id)
    return encode_pass(
        call, event_id, items[:MAX_SCORES], judged_at=now, source=rules.source, replay_id=rules.replay_id
    )
