"""The online scorer's hot path as derived msgspec structs: the call read, the pass built and serialised (ADR 0030).

Decoding each call into pydantic models, then building seven ``ScoreItem`` models, the pass and its envelope and
serialising them cost the scorer about 100 us a call. Here the call is read by the tolerant struct derived from
``CloudEvent[CallRecorded]`` (:mod:`llmops_schemas.fastcodec`, an accept path: what it refuses is parsed by
pydantic, which also words every rejection the dead-letter queue carries), and the pass is built from the strict
``omit_none`` structs derived from ``EvaluationScored`` and encoded by msgspec as ``CloudEvent.to_json_bytes()``
writes it (tests/unit/evaluation/test_wire.py holds the bytes equal over a corpus of calls).

Built, not converted: a struct's constructor runs the model's ``mode="after"`` validators (a score present
exactly when scored, within its scale) but not the field constraints. Every field is either validated already
(the call event, the evaluator's reference, built by pydantic with its configuration), derived here (ids,
latencies, the time) or a heuristic's verdict; a verdict's score outside the schema's finite range is handed to
pydantic, which refuses it as before (:func:`wire_item`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.producer import EncodedEvent
from llmops_schemas.derivation import derive
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import event_decoder, producer_event_struct, producer_struct
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import CallRecorded, EvaluationScored, EvaluatorRef, ScoreItem

if TYPE_CHECKING:
    from llmops_evaluation.evaluators import Evaluator
    from llmops_evaluation.heuristics import Verdict

__all__ = [
    "MAX_EXPLANATION",
    "CallEvent",
    "decode_call",
    "encode_pass",
    "read_call",
    "scored_item",
    "verdict_fields",
    "wire_item",
    "wire_ref",
]

_CALLS = event_decoder(CallRecorded)
_REF = derive(EvaluatorRef, strict=True, omit_none=True)
_ITEM = derive(ScoreItem, strict=True, omit_none=True)
_PASS = producer_struct(EvaluationScored)
_EVENT = producer_event_struct(EvaluationScored)
_DATASCHEMA = EvaluationScored.dataschema()
_ENCODER = msgspec.json.Encoder()
MAX_EXPLANATION = 16_384
"""Characters of a heuristic's explanation an item keeps."""
_SCORE_BOUND = 1e12
"""``Score``'s and ``NonNegativeScore``'s bound (llmops_schemas.v1.common): beyond it, or not finite, pydantic
decides."""


class CallEvent(Protocol):
    """A ``call.recorded.v2`` event as the scorer reads it: the derived struct or a pydantic ``CloudEvent``
    (a replay's calls, and what only pydantic accepted). Both have these attributes; ``data`` is the call."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def data(self) -> Any: ...


def decode_call(message: ConsumedMessage) -> CloudEvent[CallRecorded]:
    """The call event of ``message`` as pydantic reads it; :class:`PermanentError` (dead-lettered) for anything
    else, with pydantic's message."""
    try:
        event = parse_event(message.value, expect=CallRecorded)
    except EventValidationError as exc:
        raise PermanentError(str(exc)) from exc
    if not isinstance(event.data, CallRecorded):
        raise PermanentError(f"{event.type} is not a call event")
    return event


def read_call(message: ConsumedMessage) -> CallEvent:
    """The call of ``message``: the derived struct when it accepts the record, else :func:`decode_call`'s."""
    event = _CALLS.decode(message.value)
    if event is not None and event.type == CallRecorded.event_type:
        found: CallEvent = event
        return found
    return decode_call(message)


def wire_ref(ref: EvaluatorRef) -> Any:
    """``ref`` (validated by pydantic) as the derived struct the items carry."""
    return msgspec.convert(ref.model_dump(exclude_none=True), _REF)


def wire_item(evaluator: Evaluator, **fields: Any) -> Any:
    """One item of ``evaluator`` as the derived struct (its constructor runs the item's validators)."""
    score, latency = fields.get("score"), fields.get("latency_ms")
    if not ((score is None or -_SCORE_BOUND <= score <= _SCORE_BOUND) and (latency is None or latency <= _SCORE_BOUND)):
        ScoreItem(evaluator=evaluator.ref, **fields)  # NaN fails both comparisons: pydantic refuses, as before
    return _ITEM(evaluator=evaluator.wire_ref, **fields)


def scored_item(evaluator: Evaluator, score_id: str, verdict: Verdict, latency_ms: float) -> Any:
    """The item of one verdict, :func:`wire_item`'s without its keyword dictionaries (seven items a call)."""
    score = verdict.score
    if not ((score is None or -_SCORE_BOUND <= score <= _SCORE_BOUND) and latency_ms <= _SCORE_BOUND):
        return wire_item(evaluator, **verdict_fields(score_id, verdict, latency_ms))  # pydantic words the refusal
    explanation = verdict.explanation
    return _ITEM(
        evaluator=evaluator.wire_ref,
        score_id=score_id,
        metric=verdict.metric,
        score=score,
        score_min=verdict.score_min,
        score_max=verdict.score_max,
        label=verdict.label,
        passed=verdict.passed,
        explanation=explanation[:MAX_EXPLANATION] if explanation else None,
        latency_ms=latency_ms,
    )


def verdict_fields(score_id: str, verdict: Verdict, latency_ms: float) -> dict[str, Any]:
    """The fields of the item of one verdict, as keywords of ``ScoreItem`` (its evaluator apart)."""
    return {
        "score_id": score_id,
        "metric": verdict.metric,
        "score": verdict.score,
        "score_min": verdict.score_min,
        "score_max": verdict.score_max,
        "label": verdict.label,
        "passed": verdict.passed,
        "explanation": verdict.explanation[:MAX_EXPLANATION] if verdict.explanation else None,
        "latency_ms": latency_ms,
    }


def encode_pass(
    call: CallEvent, evaluation_id: str, items: list[Any], *, judged_at: datetime, source: str, replay_id: str | None
) -> EncodedEvent:
    """The pass of ``items`` over ``call``, enveloped and serialised as ``CloudEvent.to_json_bytes()`` does; its
    time is the call's start, so a redelivered call yields the same bytes but for ``judged_at``."""
    data = call.data
    payload = _PASS(
        evaluation_id=evaluation_id,
        call_id=data.call_id,
        app=data.app,
        replay_id=replay_id,
        scores=items,
        judged_at=judged_at,
    )
    event = _EVENT(
        specversion="1.0",
        id=evaluation_id,
        source=source,
        type=EvaluationScored.event_type,
        time=data.started_at,
        subject=data.call_id,
        dataschema=_DATASCHEMA,
        tenant_id=call.tenant_id,
        trace_id=call.trace_id,
        data=payload,
    )
    return EncodedEvent(EvaluationScored.topic, call.tenant_id.encode(), EvaluationScored.event_type, _encode(event))


def _encode(event: Any) -> bytes:
    encoded: bytes = _ENCODER.encode(event)
    return encoded
