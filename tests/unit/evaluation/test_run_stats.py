"""Comparing runs, the gate and the bias gaps, against figures worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest
from llmops_evaluation.runs.stats import bias_gaps, compare, gate, run_scores
from scipy import stats


def scores(values: dict[str, float], evaluator: str = "quality", metric: str = "score", **more: Any) -> dict[str, Any]:
    """A run's stored payloads: one per example, with one scored item (passed when >= 0.5)."""
    return {"values": values, "evaluator": evaluator, "metric": metric, **more}


def payloads(*runs: dict[str, Any]) -> list[dict[str, Any]]:
    by_example: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for example, value in run["values"].items():
            item = {"evaluator": {"name": run["evaluator"]}, "metric": run["metric"], "outcome": "scored",
                    "score": value, "passed": value >= 0.5}  # fmt: skip
            by_example.setdefault(example, []).append(item)
    return [{"example_id": e, "scores": items} for e, items in by_example.items()]


BASE = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.4}
CAND = {"a": 0.7, "b": 0.7, "c": 0.6, "d": 0.1}


def test_paired_delta_with_a_t_interval() -> None:
    [delta] = compare(run_scores(payloads(scores(BASE))), run_scores(payloads(scores(CAND))))
    diffs = [CAND[k] - BASE[k] for k in BASE]  # -0.2, -0.1, -0.1, -0.3
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert delta.paired and delta.delta == pytest.approx(-0.175)
    assert (delta.low, delta.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert delta.baseline.mean == pytest.approx(0.7) and delta.candidate.mean == pytest.approx(0.525)
    assert (delta.baseline.pass_rate, delta.candidate.pass_rate) == (0.75, 0.75)
    assert delta.pass_rate_delta == 0


def test_unpaired_runs_get_welchs_interval() -> None:
    base = {"a": 0.9, "b": 0.8, "c": 0.7}
    cand = {"x": 0.5, "y": 0.7, "z": 0.6, "w": 0.2}
    [delta] = compare(run_scores(payloads(scores(base))), run_scores(payloads(scores(cand))))
    expected = stats.ttest_ind(list(cand.values()), list(base.values()), equal_var=False).confidence_interval(0.95)
    assert not delta.paired
    assert (delta.low, delta.high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    [single] = compare(run_scores(payloads(scores({"a": 1.0}))), run_scores(payloads(scores({"b": 0.0}))))
    assert single.delta == -1.0 and single.low is None and single.high is None


def test_failed_items_are_not_scores() -> None:
    failed = {"example_id": "a", "scores": [{"evaluator": {"name": "quality"}, "metric": "quality",
                                             "outcome": "error", "score": None}]}  # fmt: skip
    found = run_scores([failed, {"scores": []}])
    assert found.scores == {"a": {}} and found.metrics() == set()


def test_gate_reads_the_pass_rate_else_the_mean_and_fails_on_a_missing_metric() -> None:
    cand = {"a": 0.7, "b": 0.4, "c": 0.6, "d": 0.1}  # pass rate 0.75 -> 0.5; mean 0.7 -> 0.45
    base = run_scores(payloads(scores(BASE), scores(BASE, "length", "length_ok")))
    deltas = compare(base, run_scores(payloads(scores(cand), scores(BASE, "length", "length_ok"))))
    assert gate(deltas, "quality", max_drop=0.25) == (True, [d for d in deltas if d.evaluator == "quality"])
    assert gate(deltas, "quality", max_drop=0.24)[0] is False
    assert gate(deltas, "length", max_drop=0.0)[0] is True
    assert gate(deltas, "unknown", max_drop=1.0) == (False, [])
    lost = compare(base, run_scores(payloads(scores(cand))))
    assert gate(lost, "length", max_drop=1.0)[0] is False
    # Without pass/fail the mean decides (higher is better).
    unjudged = [{"example_id": e, "scores": [{"evaluator": {"name": "sim"}, "metric": "m", "score": v}]}
                for e, v in BASE.items()]  # fmt: skip
    lower = [{**p, "scores": [{**p["scores"][0], "score": p["scores"][0]["score"] - 0.3}]} for p in unjudged]
    by_mean = compare(run_scores(unjudged), run_scores(lower))
    assert gate(by_mean, "sim", max_drop=0.31)[0] is True and gate(by_mean, "sim", max_drop=0.29)[0] is False


def test_bias_gap_per_pair_group() -> None:
    run = run_scores(payloads(scores({"p1-she": 0.9, "p1-he": 0.6, "p2-she": 0.5, "p2-he": 0.5, "p3-she": 0.8})))
    groups = {"p1-she": ("p1", "she"), "p1-he": ("p1", "he"), "p2-she": ("p2", "she"), "p2-he": ("p2", "he"),
              "p3-she": ("p3", "she")}  # fmt: skip
    [gap] = bias_gaps(run, groups)
    assert gap.groups == 2  # p3 has one scored example: no gap to measure
    assert gap.mean_abs_gap == pytest.approx((0.3 + 0.0) / 2)
    assert (gap.worst_group, gap.worst_gap, gap.worst_labels) == ("p1", pytest.approx(0.3), ("she", "he"))
    assert bias_gaps(run, {}) == []
