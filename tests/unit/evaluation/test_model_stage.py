"""The model stage with fake gateway and warehouse: judge scores, malformed answers, timeouts, failures, the bound
on runs in flight, idempotent ids, platform traffic, and pairwise judging of a shadow copy."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_evaluation.handlers import ScoringRules, score_calls
from llmops_evaluation.metrics import EVALUATOR_FAILURES
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import JudgePorts
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformCallError
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import EvaluationScored, ScoreItem

from tests.unit.evaluation.calls import call, configured
from tests.unit.evaluation.judges import FakeGateway, FakeHistory
from tests.unit.evaluation.test_scoring import store_with

JUDGE = {"model": "judge", "prompt": {"name": "rubric", "version": 1}}
PAIRWISE = {"model": "judge", "prompt": {"name": "rubric", "label": "production"}, "primary_wait_s": 0}
QUESTION = [
    {"role": "system", "content": "Parcels leave the depot at 9."},
    {"role": "user", "content": "Where is my parcel?"},
]


async def judged(
    stage: ModelStage, store: Any, *calls: CloudEvent[Any]
) -> tuple[list[CloudEvent[EvaluationScored]], int]:
    out = InMemoryPublisher()
    count = await stage.score(list(calls), store, out)
    return out.on(EvaluationScored.topic), count


def stage_of(gateway: FakeGateway, history: FakeHistory | None = None, in_flight: int = 16) -> ModelStage:
    return ModelStage(JudgePorts(gateway, history), ScoringRules(max_in_flight=in_flight))


def only(events: list[CloudEvent[EvaluationScored]]) -> ScoreItem:
    [event] = events
    [item] = event.data.scores
    return item


async def test_a_judge_scores_the_call_with_its_model_prompt_and_version() -> None:
    gateway = FakeGateway(usage={"prompt_tokens": 10, "cost": 0.0004})
    store = store_with(configured("helpful", "llm_judge", {**JUDGE, "pass_threshold": 4}))
    events, count = await judged(
        stage_of(gateway), store, call(messages=QUESTION, output="Your parcel is at the depot.")
    )
    item = only(events)
    assert count == 1 and events[0].data.call_id == "call-1" and events[0].data.compared_call_id is None
    assert (item.outcome, item.score, item.score_min, item.score_max, item.passed) == ("scored", 5, 1, 5, True)
    ref = item.evaluator
    assert (ref.kind, ref.judge_model, ref.judge_prompt, ref.judge_prompt_version) == (
        "llm_judge",
        "judge",
        "rubric",
        1,
    )
    assert item.metric == "judge" and item.cost_usd == 0.0004 and item.latency_ms is not None
    assert item.explanation is not None and item.explanation.startswith("Score: 5/5")
    # What the gateway was sent: the rubric by version, rendered with the call's question, context and answer.
    [body] = gateway.bodies
    assert body["model"] == "judge" and body["temperature"] == 0
    assert body["prompt"] == {
        "name": "rubric",
        "version": 1,
        "variables": {
            "question": "Where is my parcel?",
            "context": "Parcels leave the depot at 9.",
            "answer": "Your parcel is at the depot.",
        },
    }


async def test_a_rubric_followed_by_label_names_the_version_it_pointed_at_and_no_cost_is_none() -> None:
    gateway = FakeGateway()
    store = store_with(
        configured("helpful", "llm_judge", {**JUDGE, "prompt": {"name": "rubric", "label": "production"}})
    )
    item = only((await judged(stage_of(gateway), store, call()))[0])
    assert item.evaluator.judge_prompt_version == 2 and item.cost_usd is None
    gateway.prompts["rubric"]["production"] = 1  # the label moved: a new judgment, beside the old one
    moved = only((await judged(stage_of(gateway), store, call()))[0])
    assert moved.evaluator.judge_prompt_version == 1 and moved.score_id != item.score_id


async def test_a_redelivered_call_yields_the_same_event_and_score_ids() -> None:
    store = store_with(configured("helpful", "llm_judge", JUDGE), configured("short", "length", {"max_chars": 10}))
    stage = stage_of(FakeGateway())
    first, _ = await judged(stage, store, call())
    again, _ = await judged(stage, store, call())
    assert [e.id for e in first] == [e.id for e in again]
    assert [i.score_id for i in first[0].data.scores] == [i.score_id for i in again[0].data.scores]
    # The heuristic pass is another event (and leaves the judge out); the model stage leaves the heuristic out.
    out = InMemoryPublisher()
    await score_calls([call()], store, out, ScoringRules())
    [heuristic] = out.on(EvaluationScored.topic)
    assert heuristic.id != first[0].id
    assert [i.evaluator.name for i in heuristic.data.scores] == ["short"]
    assert [i.evaluator.name for i in first[0].data.scores] == ["helpful"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (lambda _: "The answer is fine.", "no score in the judge's answer; the judge answered 'The answer is fine.'"),
        (lambda _: "Score: 9/10", "another scale"),
        (lambda _: None, "the judge answered nothing; the judge answered no text"),
        (lambda _: "", "the judge answered nothing"),
    ],
)
async def test_a_judge_answer_without_a_score_is_malformed_never_a_score(answer: Any, why: str) -> None:
    before = EVALUATOR_FAILURES.labels("llm_judge", "malformed")._value.get()
    store = store_with(configured("helpful", "llm_judge", JUDGE))
    item = only((await judged(stage_of(FakeGateway(answer=answer)), store, call()))[0])
    assert (item.outcome, item.score, item.passed) == ("malformed", None, None)
    assert item.explanation is not None and why in item.explanation
    assert item.evaluator.judge_prompt_version == 1
    assert EVALUATOR_FAILURES.labels("llm_judge", "malformed")._value.get() == before + 1


async def test_a_hanging_judge_times_out_and_the_others_still_score() -> None:
    before = EVALUATOR_FAILURES.labels("llm_judge", "timeout")._value.get()
    slow = FakeGateway(delay_s=30)
    store = store_with(configured("slow", "llm_judge", {**JUDGE, "timeout_s": 0.05}))
    item = only((await judged(stage_of(slow), store, call()))[0])
    assert (item.outcome, item.metric, item.explanation) == (
        "timeout",
        "llm_judge",
        "no answer within its 0.05s timeout",
    )
    assert EVALUATOR_FAILURES.labels("llm_judge", "timeout")._value.get() == before + 1


async def test_a_gateway_refusal_is_an_error_item_naming_it() -> None:
    before = EVALUATOR_FAILURES.labels("llm_judge", "error")._value.get()
    gone = FakeGateway(fail=PlatformCallError("gateway", 404, "The model 'judge' does not exist"))
    store = store_with(
        configured("helpful", "llm_judge", JUDGE), configured("other", "llm_judge", {**JUDGE, "metric": "tone"})
    )
    events, count = await judged(stage_of(gone), store, call())
    assert count == 0
    [event] = events
    assert [(i.evaluator.name, i.outcome) for i in event.data.scores] == [("helpful", "error"), ("other", "error")]
    assert event.data.scores[0].explanation == "gateway answered 404: The model 'judge' does not exist"
    assert EVALUATOR_FAILURES.labels("llm_judge", "error")._value.get() == before + 2


async def test_a_removed_label_is_an_error_item() -> None:
    store = store_with(configured("helpful", "llm_judge", {**JUDGE, "prompt": {"name": "rubric", "label": "qa"}}))
    item = only((await judged(stage_of(FakeGateway()), store, call()))[0])
    assert item.outcome == "error" and item.explanation == "the rubric prompt 'rubric' has no label 'qa'"


async def test_runs_in_flight_never_exceed_the_bound() -> None:
    gateway = FakeGateway(delay_s=0.01)
    store = store_with(configured("a", "llm_judge", JUDGE), configured("b", "llm_judge", {**JUDGE, "metric": "tone"}))
    calls = [call(call_id=f"call-{n}") for n in range(12)]
    events, count = await judged(stage_of(gateway, in_flight=3), store, *calls)
    assert count == 24 and len(events) == 12
    assert gateway.most_in_flight == 3


async def test_platform_calls_and_failed_calls_are_never_judged() -> None:
    gateway = FakeGateway()
    store = store_with(configured("helpful", "llm_judge", JUDGE))
    events, _ = await judged(
        stage_of(gateway),
        store,
        call(origin="platform"),
        call(call_id="c2", status="error", choices=[], error={"type": "upstream", "message": "x"}),
    )
    assert events == [] and gateway.bodies == []


def shadow_pair(shadow_output: str, primary_output: str) -> tuple[CloudEvent[Any], FakeHistory]:
    experiment = {"experiment_id": "exp-1", "variant": "copy", "shadow": True}
    copy = call(call_id="copy-1", output=shadow_output, experiment=experiment, metadata={"shadow_of": "primary-1"})
    primary = call(
        call_id="primary-1", output=primary_output, experiment={**experiment, "variant": "live", "shadow": False}
    )
    return copy, FakeHistory({("acme", "primary-1"): primary.data})


def prefers_depot(variables: dict[str, Any]) -> str:
    a_ok, b_ok = "depot" in variables["answer_a"], "depot" in variables["answer_b"]
    return "Preferred: tie" if a_ok == b_ok else f"Preferred: {'A' if a_ok else 'B'}"


@pytest.mark.parametrize(
    ("answer", "label", "score"),
    [
        (prefers_depot, "call", 1.0),  # the primary's answer mentions the depot, in both orders
        (lambda _: "Preferred: A", "inconsistent", 0.5),  # always the first position: order bias cancelled
        (lambda _: "[[C]]", "tie", 0.5),
    ],
)
async def test_a_shadow_copy_is_judged_against_its_primary_in_both_orders(
    answer: Any, label: str, score: float
) -> None:
    copy, history = shadow_pair("No idea.", "At the depot.")
    gateway = FakeGateway(answer=answer)
    store = store_with(
        configured("vs-shadow", "llm_judge_pairwise", PAIRWISE), configured("helpful", "llm_judge", JUDGE)
    )
    events, _ = await judged(stage_of(gateway, history), store, copy)
    by_pair = {(e.data.call_id, e.data.compared_call_id): e.data.scores for e in events}
    [pairwise] = by_pair[("primary-1", "copy-1")]
    assert (pairwise.outcome, pairwise.label, pairwise.score, pairwise.metric) == ("scored", label, score, "preference")
    assert pairwise.evaluator.kind == "llm_judge" and pairwise.evaluator.judge_prompt_version == 2
    [pointwise] = by_pair[("copy-1", None)]  # the copy's own judge score stands apart
    assert pointwise.evaluator.name == "helpful"
    orders = [
        (b["prompt"]["variables"]["answer_a"], b["prompt"]["variables"]["answer_b"])
        for b in gateway.bodies
        if "answer_a" in b["prompt"]["variables"]
    ]
    assert sorted(orders) == [("At the depot.", "No idea."), ("No idea.", "At the depot.")]


async def test_a_pairwise_judge_without_its_primary_records_the_failure_on_the_pair() -> None:
    copy, _ = shadow_pair("x", "y")
    store = store_with(configured("vs-shadow", "llm_judge_pairwise", PAIRWISE))
    [event] = (await judged(stage_of(FakeGateway(), FakeHistory()), store, copy))[0]
    assert (event.data.call_id, event.data.compared_call_id) == ("primary-1", "copy-1")
    [item] = event.data.scores
    assert item.outcome == "error" and item.explanation == "the primary call primary-1 is not in the warehouse after 0s"


async def test_a_pairwise_judge_takes_only_shadow_copies() -> None:
    gateway = FakeGateway()
    store = store_with(configured("vs-shadow", "llm_judge_pairwise", PAIRWISE))
    assert (await judged(stage_of(gateway, FakeHistory()), store, call()))[0] == []
