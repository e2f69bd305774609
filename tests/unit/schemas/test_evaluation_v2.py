"""``llmops.evaluation.scored.v2``: scores batched per pass, failures recorded, judges named; v1 read as v2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import EvaluationScored as EvaluationV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import EvaluationScored, EvaluatorRef, ScoreItem
from pydantic import ValidationError

AT = datetime(2026, 1, 1, tzinfo=UTC)
HEURISTIC = EvaluatorRef(name="short", version="1+abc", kind="heuristic")


def item(**fields: Any) -> ScoreItem:
    return ScoreItem.model_validate({"score_id": "s-1", "evaluator": HEURISTIC, "metric": "length", **fields})


def test_a_v1_event_is_read_as_a_pass_of_one_item_with_the_same_envelope() -> None:
    v1 = CloudEvent.wrap(example(EvaluationV1), source="tests", tenant_id="acme", key_id="k-1")
    read = parse_event(v1.to_json_bytes())
    assert read.type == "llmops.evaluation.scored.v2"
    assert (read.id, read.tenant_id, read.key_id, read.time) == (v1.id, "acme", "k-1", v1.time)
    assert (read.data.evaluation_id, read.data.call_id, read.data.app) == (
        v1.data.evaluation_id,
        v1.data.call_id,
        v1.data.app,
    )
    [only] = read.data.scores
    assert only.score_id == v1.data.evaluation_id and only.outcome == "scored"
    assert (only.metric, only.score, only.label, only.passed) == ("relevance", 0.85, "relevant", True)
    assert (only.evaluator.kind, only.evaluator.judge_model) == ("llm_judge", "gpt-4o")


def test_a_score_is_present_exactly_when_scored() -> None:
    assert item(score=3).outcome == "scored"
    assert item(outcome="malformed", explanation="no score in 'hmm'").score is None
    with pytest.raises(ValidationError, match="exactly when outcome is 'scored'"):
        item()
    with pytest.raises(ValidationError, match="exactly when outcome is 'scored'"):
        item(outcome="timeout", score=1)
    with pytest.raises(ValidationError, match="only a scored item passes"):
        item(outcome="error", passed=False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"score": 6, "score_max": 5}, "above score_max"),
        ({"score": 0, "score_min": 1}, "below score_min"),
        ({"score": 1, "score_min": 2, "score_max": 1}, "must not exceed"),
        ({"score": float("nan")}, "finite"),
        ({"score": 1, "latency_ms": -1}, "greater than or equal"),
    ],
)
def test_scores_stay_within_their_scale(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        item(**fields)


def test_only_llm_judges_name_a_model_and_a_rubric() -> None:
    judge = EvaluatorRef(
        name="j", version="1", kind="llm_judge", judge_model="m", judge_prompt="p", judge_prompt_version=2
    )
    assert judge.judge_prompt_version == 2
    with pytest.raises(ValidationError, match="only for kind 'llm_judge'"):
        EvaluatorRef(name="h", version="1", kind="semantic", judge_prompt="p")
    with pytest.raises(ValidationError, match="needs judge_prompt"):
        EvaluatorRef(name="j", version="1", kind="llm_judge", judge_prompt_version=2)


def test_a_pass_holds_one_to_max_items_and_consistent_links() -> None:
    def scored(**fields: Any) -> EvaluationScored:
        base = {"evaluation_id": "e", "call_id": "c", "scores": [item(score=1)], "judged_at": AT}
        return EvaluationScored.model_validate({**base, **fields})

    assert scored(run_id="r", example_id="x").example_id == "x"
    with pytest.raises(ValidationError, match="at least 1"):
        scored(scores=[])
    with pytest.raises(ValidationError, match="at most 256"):
        scored(scores=[item(score=1)] * 257)
    with pytest.raises(ValidationError, match="example_id needs run_id"):
        scored(example_id="x")
    with pytest.raises(ValidationError, match="must differ"):
        scored(compared_call_id="c")
