"""The `llmops up` demo's summary of online scores: per evaluator and metric, scored items only."""

from __future__ import annotations

from typing import Any

from llmops_cli.verdict_demo import _by_evaluator


def item(name: str, metric: str, outcome: str = "scored", score: float | None = None, passed: bool = False) -> Any:
    return {"evaluator": {"name": name}, "metric": metric, "outcome": outcome, "score": score, "passed": passed}


def test_scores_are_summed_up_per_evaluator_and_metric_leaving_failures_out() -> None:
    passes = [
        {"call_id": "a", "scores": [item("len", "length", score=1.0, passed=True), item("ref", "refusal", score=0)]},
        {"call_id": "b", "scores": [item("len", "length", score=0.0), item("ref", "refusal", outcome="timeout")]},
    ]
    assert _by_evaluator(passes) == [
        {"evaluator": "len", "metric": "length", "scored": 2, "mean": 0.5, "passed": 1},
        {"evaluator": "ref", "metric": "refusal", "scored": 1, "mean": 0.0, "passed": 0},
    ]
