"""Comparing runs: per evaluator metric, means and pass rates, the candidate's delta with a t interval, per
example side by side; the CI gate; the counterfactual bias gaps. Pure functions over scores already read.

A delta is paired (the mean of per-example differences) when the runs share at least two scored examples (the
same dataset), else Welch's unpaired difference; the interval is Student's t at the chosen confidence (scipy).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

__all__ = [
    "BiasGap",
    "Delta",
    "MetricKey",
    "RunScores",
    "Summary",
    "bias_gaps",
    "compare",
    "dropped",
    "gate",
    "run_scores",
    "summarize",
]

MetricKey = tuple[str, str]
"""(evaluator name, metric)."""


@dataclass(frozen=True, slots=True)
class Scored:
    score: float
    passed: bool | None


@dataclass
class RunScores:
    """One run's scored items per example: ``scores[example_id][(evaluator, metric)]``."""

    scores: dict[str, dict[MetricKey, Scored]] = field(default_factory=dict)

    def metrics(self) -> set[MetricKey]:
        return {key for by_metric in self.scores.values() for key in by_metric}

    def values(self, key: MetricKey) -> dict[str, Scored]:
        return {ex: by_metric[key] for ex, by_metric in self.scores.items() if key in by_metric}


def run_scores(events: Iterable[Mapping[str, Any]]) -> RunScores:
    """The scored items of a run's ``evaluation_scores`` payloads (failed items carry no score and are left out)."""
    found = RunScores()
    for data in events:
        example = data.get("example_id")
        if not example:
            continue
        by_metric = found.scores.setdefault(example, {})
        for item in data.get("scores", []):
            if item.get("outcome", "scored") == "scored" and item.get("score") is not None:
                key = (item["evaluator"]["name"], item["metric"])
                by_metric[key] = Scored(float(item["score"]), item.get("passed"))
    return found


@dataclass(frozen=True, slots=True)
class Summary:
    """One metric of one run: how many examples were scored, the mean score, the share that passed."""

    n: int
    mean: float | None
    pass_rate: float | None


def summarize(values: Iterable[Scored]) -> Summary:
    items = list(values)
    passes = [v.passed for v in items if v.passed is not None]
    mean = sum(v.score for v in items) / len(items) if items else None
    return Summary(len(items), mean, sum(passes) / len(passes) if passes else None)


@dataclass(frozen=True, slots=True)
class Delta:
    """Candidate minus baseline on one metric, with its interval (None when too few examples for one)."""

    evaluator: str
    metric: str
    baseline: Summary
    candidate: Summary
    delta: float | None
    low: float | None
    high: float | None
    paired: bool
    pass_rate_delta: float | None


def _interval(diffs: list[float], confidence: float) -> tuple[float | None, float | None]:
    if len(diffs) < 2:
        return None, None
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    if sd == 0:
        return mean, mean
    low, high = stats.t.interval(confidence, len(diffs) - 1, loc=mean, scale=sd / math.sqrt(len(diffs)))
    return float(low), float(high)


def _welch(a: list[float], b: list[float], confidence: float) -> tuple[float | None, float | None]:
    if len(a) < 2 or len(b) < 2:
        return None, None
    if len(set(a)) == 1 and len(set(b)) == 1:  # no variance: the difference is exact
        return b[0] - a[0], b[0] - a[0]
    interval = stats.ttest_ind(b, a, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def _delta(baseline: RunScores, candidate: RunScores, key: MetricKey, confidence: float) -> Delta:
    base, cand = baseline.values(key), candidate.values(key)
    a, b = summarize(base.values()), summarize(cand.values())
    shared = sorted(base.keys() & cand.keys())
    paired = len(shared) >= 2
    if paired:
        low, high = _interval([cand[e].score - base[e].score for e in shared], confidence)
    else:
        low, high = _welch([v.score for v in base.values()], [v.score for v in cand.values()], confidence)
    delta = b.mean - a.mean if a.mean is not None and b.mean is not None else None
    rate = b.pass_rate - a.pass_rate if a.pass_rate is not None and b.pass_rate is not None else None
    return Delta(key[0], key[1], a, b, delta, low, high, paired, rate)


def compare(baseline: RunScores, candidate: RunScores, *, confidence: float = 0.95) -> list[Delta]:
    """One :class:`Delta` per metric either run has, by evaluator and metric."""
    keys = sorted(baseline.metrics() | candidate.metrics())
    return [_delta(baseline, candidate, key, confidence) for key in keys]


def dropped(delta: Delta) -> float | None:
    """How much the candidate lost on a metric: of its pass rate where the metric passes or fails (every heuristic
    does; a pass is always the good side), else of its mean score (higher taken as better). None: not comparable."""
    change = delta.pass_rate_delta if delta.pass_rate_delta is not None else delta.delta
    return None if change is None else -change


def gate(deltas: Iterable[Delta], evaluator: str, max_drop: float) -> tuple[bool, list[Delta]]:
    """Whether no metric of ``evaluator`` dropped (:func:`dropped`) by more than ``max_drop``.

    Returns the verdict and the evaluator's deltas; a metric missing from either run fails the gate (a
    candidate that stopped producing a score must not pass).
    """
    mine = [d for d in deltas if d.evaluator == evaluator]
    drops = [dropped(d) for d in mine]
    ok = bool(mine) and all(drop is not None and drop <= max_drop for drop in drops)
    return ok, mine


@dataclass(frozen=True, slots=True)
class BiasGap:
    """The score gap within counterfactual pair groups on one metric: mean absolute gap and the worst group."""

    evaluator: str
    metric: str
    groups: int
    mean_abs_gap: float
    worst_group: str
    worst_gap: float
    worst_labels: tuple[str, str]


def bias_gaps(scores: RunScores, groups: Mapping[str, tuple[str, str | None]]) -> list[BiasGap]:
    """Per metric, the gap (max minus min score) within each pair group; ``groups[example] = (group, label)``.

    A group counts once at least two of its examples were scored.
    """
    found: list[BiasGap] = []
    for key in sorted(scores.metrics()):
        members: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for example, value in scores.values(key).items():
            if example in groups:
                group, label = groups[example]
                members[group].append((value.score, label or example))
        gaps = {g: (max(m), min(m)) for g, m in members.items() if len(m) >= 2}
        if not gaps:
            continue
        worst = max(gaps, key=lambda g: (gaps[g][0][0] - gaps[g][1][0], g))
        high, low = gaps[worst]
        mean_gap = sum(h[0] - lo[0] for h, lo in gaps.values()) / len(gaps)
        found.append(BiasGap(key[0], key[1], len(gaps), mean_gap, worst, high[0] - low[0], (high[1], low[1])))
    return found
