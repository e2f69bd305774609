"""The online scorer's struct path against the pydantic path it replaced (docs/adr/0030): the same bytes published
for every call of a corpus (failures, timeouts, huge answers included), the same dead-letter causes for poison."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from llmops_evaluation import handlers
from llmops_evaluation.entrypoints.consumer import decode_call
from llmops_evaluation.evaluators import Evaluator, build_evaluator
from llmops_evaluation.handlers import ScoringRules, answer_of, judge_isolated, pass_id, score_calls, score_id
from llmops_evaluation.heuristics import Answer, Verdict
from llmops_evaluation.wire import read_call
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.producer import EncodedEvent
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import CallRecorded as CallRecordedV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import CallRecorded, EvaluationScored
from llmops_schemas.v2.evaluation import MAX_SCORES
from pydantic import ValidationError

from tests.unit.evaluation.calls import call, configured

JUDGED_AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
DEFAULT_SET = [
    configured("answer-length", "length", {"min_chars": 1, "max_chars": 2000}),
    configured("answer-json", "json", {"schema": {"type": "object", "required": ["a"]}}),
    configured("answer-regex", "regex", {"must": [r"\w+"], "must_not": ["(?i)as an ai language model"]}),
    configured("refusal", "refusal"),
    configured("polite", "banned_terms", {"terms": ["stupid", "idiot"]}),
    configured("no-secrets", "secrets"),
]
ANSWERS = [
    "Your parcel left the warehouse.",
    "",
    None,
    '{"a": 1, "b": [1.5, 1e-07, 123456789012.25]}',
    'Here it is:\n```json\n{"b": 2}\n```\n',
    "I'm sorry, but I can't help with that, you idiot.",
    "Key: AKIAABCDEFGHIJKLMNOP and ghp_" + "a" * 36,
    'émoji 😀 \u2019 \\ " \t \x00 control',
    "x" * 300_000,
    "Stupid " * 5_000,
]


class Ticks:
    """A ``time`` stand-in whose ``perf_counter`` advances a fixed step a call: latencies are reproducible."""

    def __init__(self, step: float) -> None:
        self._ticks: Iterator[int] = itertools.count()
        self._step = step

    def perf_counter(self) -> float:
        return next(self._ticks) * self._step


class Lookup:
    caught_up = True

    def __init__(self, evaluators: list[Evaluator]) -> None:
        self.evaluators = evaluators

    def for_call(self, tenant: str, data: Any) -> list[Evaluator]:
        return [e for e in self.evaluators if e.applies_to(data)]


def failing(evaluator: Evaluator) -> Evaluator:
    def judge(answer: Answer) -> list[Verdict]:
        raise RuntimeError("boom")

    return dataclasses.replace(evaluator, judge=judge)


def corpus() -> list[CloudEvent[CallRecorded]]:
    calls = [call(call_id=f"call-{i}", output=answer) for i, answer in enumerate(ANSWERS)]
    plus_two = datetime(2026, 3, 14, 11, 26, 53, 123456, tzinfo=timezone(timedelta(hours=2)))
    calls.append(call(call_id="call-tz", started_at=plus_two))
    refused = {"choices": [{"output": None, "refusal": "I must decline.", "finish_reason": "stop"}]}
    calls.append(call(call_id="call-refused", **refused))
    calls.append(call(call_id="call-error", status="error", error={"type": "upstream", "message": "x"}))
    traced = call(call_id="call-traced").model_copy(update={"trace_id": "0af7651916cd43dd8448eb211c80319c"})
    return [*calls, traced]


def reference(call: CloudEvent[CallRecorded], chosen: list[Evaluator], rules: ScoringRules) -> bytes:
    """The pass as the pydantic path built it before ADR 0030 (``CloudEvent.wrap`` of pydantic items)."""
    answer = answer_of(call.data, rules.max_output_chars)
    items = [
        item
        for e in chosen
        for item in judge_isolated(
            e, answer, rules.budget_s, "call", lambda metric, e=e: score_id(call.tenant_id, call.data, e, metric)
        )
    ]
    event_id = pass_id(call.tenant_id, call.data, chosen, rules.replay_id)
    payload = EvaluationScored(
        evaluation_id=event_id,
        call_id=call.data.call_id,
        app=call.data.app,
        replay_id=rules.replay_id,
        scores=items[:MAX_SCORES],
        judged_at=JUDGED_AT,
    )
    event = CloudEvent.wrap(
        payload,
        source=rules.source,
        tenant_id=call.tenant_id,
        event_id=event_id,
        subject=call.data.call_id,
        trace_id=call.trace_id,
    )
    return event.model_copy(update={"time": call.data.started_at}).to_json_bytes()


async def published(calls: list[Any], lookup: Lookup, rules: ScoringRules, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(handlers, "time", Ticks(0.000123))
    out = InMemoryPublisher()
    await score_calls(calls, lookup, out, rules)
    return out.published


def expected(calls: list[CloudEvent[CallRecorded]], lookup: Lookup, rules: ScoringRules, monkeypatch: Any) -> list:
    monkeypatch.setattr(handlers, "time", Ticks(0.000123))
    chosen = [(c, lookup.for_call(c.tenant_id, c.data)) for c in calls if c.data.status == "ok"]
    return [reference(c, evaluators, rules) for c, evaluators in chosen if evaluators]


def message(value: bytes) -> ConsumedMessage:
    return ConsumedMessage("llmops.calls.recorded", 0, 0, b"acme", value, (), 0)


@pytest.mark.parametrize(
    ("budget_s", "replay_id", "fail"),
    [(0.25, None, False), (0.25, "rp-1", False), (0.0001, None, False), (0.25, None, True)],
    ids=["scored", "replayed", "timeouts", "errors"],
)
async def test_the_struct_path_publishes_the_bytes_of_the_pydantic_path(
    budget_s: float, replay_id: str | None, fail: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluators = [build_evaluator(c) for c in DEFAULT_SET]
    if fail:
        evaluators[1] = failing(evaluators[1])
    lookup = Lookup(evaluators)
    rules = ScoringRules(budget_s=budget_s, clock=lambda: JUDGED_AT, replay_id=replay_id, max_output_chars=262_144)
    calls = corpus()
    want = expected(calls, lookup, rules, monkeypatch)
    for form in (calls, [read_call(message(c.to_json_bytes())) for c in calls]):  # a replay's models, the structs
        records = await published(form, lookup, rules, monkeypatch)
        assert [r.value for r in records] == want
        assert {(r.topic, r.key, r.headers) for r in records} == {
            (EvaluationScored.topic, b"acme", (("ce_type", EvaluationScored.event_type.encode()),))
        }


def test_calls_the_platform_writes_are_read_by_the_struct() -> None:
    event = call()
    assert not isinstance(read_call(message(event.to_json_bytes())), CloudEvent)
    v1 = CloudEvent.wrap(example(CallRecordedV1), source="/services/ingest", tenant_id="acme")
    upcast = read_call(message(v1.to_json_bytes()))
    assert isinstance(upcast, CloudEvent) and upcast.data.choices[0].output == v1.data.output


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"not json",
        call().to_json_bytes().replace(b"Your parcel", b"Your \xff\xfe parcel"),
        call().to_json_bytes().replace(b'"call-1"', b'"call 1"'),
        call().to_json_bytes().replace(b"Your parcel", b"Your \\udc80 parcel"),
        b'{"specversion": "1.0"}',
        EncodedEvent.of(call()).value.replace(b"llmops.call.recorded.v2", b"llmops.evaluation.scored.v2"),
    ],
    ids=["empty", "not-json", "not-utf8", "bad-call-id", "lone-surrogate", "no-envelope", "another-type"],
)
def test_poison_is_dead_lettered_with_the_same_cause(value: bytes) -> None:
    with pytest.raises(PermanentError) as pydantic_path:
        decode_call(message(value))
    with pytest.raises(PermanentError) as struct_path:
        read_call(message(value))
    assert str(struct_path.value) == str(pydantic_path.value)


async def test_a_score_the_schema_refuses_is_refused_by_pydantic_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    def nan(answer: Answer) -> list[Verdict]:
        return [Verdict("odd", float("nan"), True)]

    evaluator = dataclasses.replace(build_evaluator(DEFAULT_SET[0]), judge=nan)
    with pytest.raises(ValidationError, match="finite"):
        await published([call()], Lookup([evaluator]), ScoringRules(), monkeypatch)


async def test_a_pass_whose_evaluators_all_abstain_publishes_nothing(monkeypatch: Any) -> None:
    abstains = dataclasses.replace(build_evaluator(DEFAULT_SET[0]), judge=lambda answer: [])
    assert await published([call()], Lookup([abstains]), ScoringRules(), monkeypatch) == []
