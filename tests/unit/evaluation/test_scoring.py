"""Online scoring with the kit's in-memory publisher: ids, redelivery, origin, sampling, isolation, the decoder."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from llmops_evaluation.entrypoints.consumer import decode_call
from llmops_evaluation.evaluators import Evaluator, build_evaluator, sampled
from llmops_evaluation.handlers import ScoringRules, answer_of, score_calls, score_id
from llmops_evaluation.heuristics import Answer, Verdict
from llmops_evaluation.metrics import EVALUATOR_FAILURES
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import CallRecorded as CallRecordedV1
from llmops_schemas.v1 import EvaluationScored as EvaluationScoredV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import EvaluationScored, ScoreItem

from tests.unit.evaluation.calls import STARTED, call, configured

RULES = ScoringRules()


def store_with(*configs: Any, tenant: str = "acme") -> EvaluatorStore:
    store = EvaluatorStore()
    for config in configs:
        store.apply(CloudEvent.wrap(config, source="/t", tenant_id=tenant))
    store.mark_caught_up()
    return store


async def scored(
    store: Any, *calls: CloudEvent[Any], rules: ScoringRules = RULES
) -> list[CloudEvent[EvaluationScored]]:
    out = InMemoryPublisher()
    await score_calls(list(calls), store, out, rules)
    return out.on(EvaluationScored.topic)


def items(events: list[CloudEvent[EvaluationScored]]) -> list[ScoreItem]:
    """Every score item of ``events``, in order."""
    return [item for event in events for item in event.data.scores]


async def test_every_metric_of_a_calls_pass_is_one_item_of_one_event() -> None:
    store = store_with(
        configured("short", "length", {"max_chars": 100}),
        configured("is-json", "json", {"schema": {"type": "object"}}),
    )
    events = await scored(store, call(output='{"a": 1}'))
    assert len(events) == 1
    event = events[0]
    assert (event.tenant_id, event.subject, event.time) == ("acme", "call-1", STARTED)
    assert event.data.evaluation_id == event.id and event.data.app == "support-bot"
    by_metric = {i.metric: i for i in event.data.scores}
    assert sorted(by_metric) == ["json_schema", "json_valid", "length"]
    length = by_metric["length"]
    assert length.evaluator.name == "short" and length.evaluator.kind == "heuristic"
    assert (length.score, length.passed, length.outcome) == (8.0, True, "scored")
    assert length.latency_ms is not None and length.latency_ms >= 0


async def test_a_redelivered_call_yields_the_same_event_and_score_ids() -> None:
    store = store_with(configured("short", "length", {"max_chars": 100}), configured("r", "refusal"))
    first = await scored(store, call())
    again = await scored(store, call())
    assert [e.id for e in first] == [e.id for e in again]
    assert [i.score_id for i in items(first)] == [i.score_id for i in items(again)]
    assert len({i.score_id for i in items(first)}) == 2


async def test_a_new_evaluator_version_is_a_new_pass() -> None:
    before = await scored(store_with(configured("short", "length", {"max_chars": 100})), call())
    after = await scored(store_with(configured("short", "length", {"max_chars": 99})), call())
    assert before[0].id != after[0].id
    assert items(before)[0].score_id != items(after)[0].score_id


def test_the_score_id_depends_on_tenant_call_evaluator_version_and_metric() -> None:
    base = build_evaluator(configured("short", "length", {"max_chars": 100}))
    other_version = build_evaluator(configured("short", "length", {"max_chars": 99}))
    other_name = build_evaluator(configured("long", "length", {"max_chars": 100}))
    data = call().data
    ids = {
        score_id("acme", data, base, "length"),
        score_id("other", data, base, "length"),
        score_id("acme", call(call_id="call-2").data, base, "length"),
        score_id("acme", data, other_version, "length"),
        score_id("acme", data, other_name, "length"),
        score_id("acme", data, base, "other"),
    }
    assert len(ids) == 6
    assert score_id("acme", data, base, "length") == score_id("acme", call().data, base, "length")


def test_a_parameter_change_is_a_new_version() -> None:
    a = build_evaluator(configured("short", "length", {"max_chars": 100}))
    b = build_evaluator(configured("short", "length", {"max_chars": 101}))
    assert a.version != b.version and a.version.startswith("1+")


async def test_platform_calls_are_not_scored_unless_asked() -> None:
    default = store_with(configured("short", "length", {"max_chars": 100}))
    assert await scored(default, call(origin="platform")) == []
    opted_in = store_with(configured("short", "length", {"max_chars": 100}, include_platform=True))
    assert len(items(await scored(opted_in, call(origin="platform")))) == 1


async def test_scope_other_app_prompt_model_tenant_disabled_and_failed_calls() -> None:
    store = store_with(
        configured("by-prompt", "refusal", prompt_name="support-answer"),
        configured("by-model", "refusal", model="gpt-4o"),
        configured("paused", "refusal", enabled=False),
    )
    assert await scored(store, call()) == []  # no prompt, another model, paused
    prompted = call(prompt={"name": "support-answer", "version": 3})
    assert [i.evaluator.name for i in items(await scored(store, prompted))] == ["by-prompt"]
    everything = store_with(configured("all", "refusal"))
    assert await scored(everything, call(app="other-app")) == []
    assert await scored(everything, call(tenant="someone-else")) == []
    failed = call(status="error", error={"type": "timeout", "message": "upstream"}, choices=[])
    assert await scored(everything, failed) == []


async def test_sampling_is_deterministic_by_call_id() -> None:
    store = store_with(configured("half", "refusal", sampling_rate=0.5))
    calls = [call(call_id=f"call-{i}") for i in range(400)]
    first = {e.data.call_id for e in await scored(store, *calls)}
    assert first == {e.data.call_id for e in await scored(store, *calls)}
    assert 140 < len(first) < 260
    assert first == {c.data.call_id for c in calls if sampled(c.data.call_id, "half", 0.5)}
    assert await scored(store_with(configured("none", "refusal", sampling_rate=0.0)), *calls) == []


def _failing(evaluator: Evaluator, judge: Any) -> Evaluator:
    return dataclasses.replace(evaluator, judge=judge)


class Lookup:
    """A fixed set of evaluators for every call (to plant a broken one beside working ones)."""

    caught_up = True

    def __init__(self, *evaluators: Evaluator) -> None:
        self._evaluators = list(evaluators)

    def for_call(self, tenant: str, data: Any) -> list[Evaluator]:
        return self._evaluators


async def test_an_evaluator_that_raises_is_isolated_recorded_and_counted() -> None:
    def explode(_: Answer) -> list[Verdict]:
        raise RuntimeError("boom")

    good = build_evaluator(configured("short", "length", {"max_chars": 100}))
    bad = _failing(build_evaluator(configured("broken", "refusal")), explode)
    before = EVALUATOR_FAILURES.labels("refusal", "error")._value.get()
    events = await scored(Lookup(bad, good), call(), call(call_id="call-2"))
    got = [(i.evaluator.name, i.outcome, i.score) for i in items(events)]
    assert got == [("broken", "error", None), ("short", "scored", 31.0)] * 2
    assert "RuntimeError" in (items(events)[0].explanation or "")
    assert EVALUATOR_FAILURES.labels("refusal", "error")._value.get() == before + 2


async def test_an_evaluator_over_its_budget_yields_no_score_and_is_counted() -> None:
    def slow(_: Answer) -> list[Verdict]:
        time.sleep(0.05)
        return [Verdict("slow", 1.0, True)]

    good = build_evaluator(configured("short", "length", {"max_chars": 100}))
    late = _failing(build_evaluator(configured("slow", "banned_terms", {"terms": ["x"]})), slow)
    before = EVALUATOR_FAILURES.labels("banned_terms", "timeout")._value.get()
    events = await scored(Lookup(late, good), call(), rules=ScoringRules(budget_s=0.01))
    assert [(i.metric, i.outcome) for i in items(events)] == [("banned_terms", "timeout"), ("length", "scored")]
    assert EVALUATOR_FAILURES.labels("banned_terms", "timeout")._value.get() == before + 1


async def test_a_huge_answer_is_scored_within_bounds() -> None:
    store = store_with(configured("short", "length", {"max_chars": 10}), configured("s", "secrets"))
    huge = "y" * 500_001
    events = {
        i.metric: i for i in items(await scored(store, call(output=huge), rules=ScoringRules(max_output_chars=1024)))
    }
    assert (events["length"].score, events["length"].label) == (500_001.0, "too_long")
    assert events["secrets"].passed is True


async def test_a_publish_failure_propagates_so_nothing_is_committed() -> None:
    out = InMemoryPublisher()
    out.failure = ConnectionError("kafka down")
    with pytest.raises(ConnectionError):
        await score_calls([call()], store_with(configured("r", "refusal")), out, RULES)


# --- the decoder --------------------------------------------------------------------------------------


def message(value: bytes) -> ConsumedMessage:
    return ConsumedMessage("llmops.calls.recorded", 0, 0, b"acme", value, (), 0)


def test_a_v1_call_is_upcast() -> None:
    v1 = CloudEvent.wrap(example(CallRecordedV1), source="/services/ingest", tenant_id="acme")
    event = decode_call(message(v1.to_json_bytes()))
    assert event.data.choices[0].output == v1.data.output


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"not json",
        call().to_json_bytes().replace(b"Your parcel", b"Your \xff\xfe parcel"),
        b'{"specversion": "1.0"}',
        CloudEvent.wrap(example(EvaluationScoredV1), source="/x", tenant_id="acme").to_json_bytes(),
    ],
    ids=["empty", "not-json", "not-utf8", "no-envelope", "another-type"],
)
def test_poison_is_permanent(value: bytes) -> None:
    with pytest.raises(PermanentError):
        decode_call(message(value))


def test_the_answer_carries_the_last_user_message_as_its_prompt() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": [{"type": "text", "text": "Where is"}, {"type": "text", "text": "my parcel?"}]},
    ]
    answer = answer_of(call(messages=messages).data, cap=100, prompt_cap=12)
    assert answer.prompt == "Where is\nmy "
    assert answer_of(call(messages=[{"role": "system", "content": "x"}]).data, cap=100).prompt is None


async def test_a_pass_where_every_evaluator_abstains_publishes_nothing() -> None:
    store = store_with(configured("ref", "token_f1"), configured("lang", "language"))
    assert await scored(store, call(output="ok")) == []  # online calls have no reference; "ok" has no language


async def test_the_language_check_judges_the_answer_against_the_calls_prompt() -> None:
    store = store_with(configured("lang", "language"))
    [event] = await scored(store, call(output="Votre colis a été expédié hier et sera livré demain matin."))
    [item] = event.data.scores
    assert (item.evaluator.kind, item.metric, item.passed, item.label) == ("heuristic", "language", False, "fr")
