"""From an experiment's recorded calls to a verdict: each metric per variant against the control.

Metrics, one value per call (``better`` says which direction wins):

| metric | values | test | better |
| --- | --- | --- | --- |
| each evaluation metric (``relevance``...) | the call's mean score of it | Welch | higher, or :data:`LOWER_IS_BETTER` |
| ``feedback_rating`` | the call's mean rating (1-5) | Welch | higher |
| ``thumbs_up`` | the call's mean thumbs (0/1) | two-proportion | higher |
| ``error_rate`` | 1 when the call failed | two-proportion | lower |
| ``latency_ms`` | successful calls' latency | Mann-Whitney | lower |
| ``cost`` | the call's cost record, when one exists | Mann-Whitney | lower |

The verdict of a variant is the outcome of the **primary metric** (the request's, else the experiment's
``primary_metric``, else ``error_rate``) at ``alpha / (variants - 1)`` (Bonferroni across the variants compared
with the control); the other metrics are reported beside it with their own outcomes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from llmops_evaluation.abtest.compare import Design, MetricComparison, Outcome, Series, TestName, compare
from llmops_evaluation.abtest.history import ExperimentData, FeedbackFact

__all__ = ["LOWER_IS_BETTER", "ExperimentVerdict", "VariantVerdict", "Verdict", "decide", "with_overrides"]

LOWER_IS_BETTER = frozenset({"error_rate", "latency_ms", "cost", "refusal", "secrets", "banned_terms", "hallucination"})
"""Metrics where less is better; every other metric is better higher."""

DEFAULT_PRIMARY = "error_rate"

Verdict = Literal["keep_running", "variant_better", "variant_worse", "no_difference"]
_VERDICT_OF: dict[Outcome, Verdict] = {
    "better": "variant_better",
    "worse": "variant_worse",
    "no_difference": "no_difference",
    "keep_running": "keep_running",
}
_TESTS: dict[str, TestName] = {
    "error_rate": "two_proportion",
    "thumbs_up": "two_proportion",
    "latency_ms": "mann_whitney",
    "cost": "mann_whitney",
}

Points = dict[str, list[tuple[float, float]]]
"""Per variant, (call time, value) pairs of one metric."""


class VariantVerdict(BaseModel):
    """One variant against the control: the verdict (from the primary metric) and every metric's comparison."""

    variant: str
    calls: int
    verdict: Verdict
    reason: str
    primary: MetricComparison | None
    metrics: list[MetricComparison]


class ExperimentVerdict(BaseModel):
    """An experiment's verdict: per variant, and overall (the one better variant, all worse, all equal)."""

    experiment_id: str
    kind: str
    status: str
    experiment_version: int = Field(description="The experiment's version the verdict read (gateway's `version`)")
    control: str
    primary_metric: str
    alpha: float
    minimum_effect: float = Field(description="In standard deviations of each metric")
    verdict: Verdict
    winner: str | None = Field(default=None, description="The variant judged better, when exactly one is")
    control_calls: int
    variants: list[VariantVerdict]
    truncated: bool = Field(description="A read bound was reached: the verdict saw the newest calls only")
    computed_at: datetime


def _collect(data: ExperimentData) -> dict[str, Points]:
    """Every metric's points per variant (shadow copies count for their variant, like any call)."""
    times = {c.call_id: (c.variant, c.time) for c in data.calls}
    metrics: dict[str, Points] = defaultdict(lambda: defaultdict(list))
    for c in data.calls:
        metrics["error_rate"][c.variant].append((c.time, float(c.error)))
        if not c.error:
            metrics["latency_ms"][c.variant].append((c.time, c.latency_ms))
    for call_id, cost in data.costs.items():
        variant, time = times[call_id]
        metrics["cost"][variant].append((time, cost))
    per_call: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in data.scores:
        per_call[(s.metric, s.call_id)].append(s.score)
    for f in _latest_feedback(data):
        per_call[("thumbs_up" if f.kind == "thumbs" else "feedback_rating", f.call_id)].append(f.value)
    for (metric, call_id), values in per_call.items():
        variant, time = times[call_id]
        metrics[metric][variant].append((time, sum(values) / len(values)))
    return metrics


def _latest_feedback(data: ExperimentData) -> list[FeedbackFact]:
    """One per feedback id: a later feedback with the same id replaces the earlier one."""
    latest: dict[str, FeedbackFact] = {}
    for f in sorted(data.feedback, key=lambda f: f.given_at):
        latest[f.feedback_id] = f
    return list(latest.values())


def _variant(
    name: str, data: ExperimentData, metrics: dict[str, Points], primary: str, design: Design, alpha: float
) -> VariantVerdict:
    control = data.experiment.control
    comparisons = [
        compare(
            metric,
            _TESTS.get(metric, "welch"),
            "lower" if metric in LOWER_IS_BETTER else "higher",
            Series.of(points.get(control, [])),
            Series.of(points.get(name, [])),
            design,
            alpha=alpha,
        )
        for metric, points in sorted(metrics.items())
    ]
    main = next((c for c in comparisons if c.metric == primary), None)
    calls = sum(1 for c in data.calls if c.variant == name)
    if main is None:
        return VariantVerdict(
            variant=name,
            calls=calls,
            verdict="keep_running",
            reason=f"no {primary} values yet",
            primary=None,
            metrics=comparisons,
        )
    return VariantVerdict(
        variant=name,
        calls=calls,
        verdict=_VERDICT_OF[main.outcome],
        reason=main.reason,
        primary=main,
        metrics=comparisons,
    )


def _overall(variants: list[VariantVerdict]) -> tuple[Verdict, str | None]:
    better = [v.variant for v in variants if v.verdict == "variant_better"]
    if len(better) == 1:
        return "variant_better", better[0]
    verdicts = {v.verdict for v in variants}
    if len(verdicts) == 1 and verdicts <= {"variant_worse", "no_difference"}:
        return verdicts.pop(), None
    return "keep_running", None


def decide(data: ExperimentData, design: Design, primary_metric: str | None = None) -> ExperimentVerdict:
    """The experiment's verdict from its data (a pure function: the same data gives the same verdict)."""
    experiment = data.experiment
    primary = primary_metric or experiment.primary_metric or DEFAULT_PRIMARY
    others = [v.name for v in experiment.variants if v.name != experiment.control]
    alpha = design.alpha / max(1, len(others))
    metrics = _collect(data)
    variants = [_variant(name, data, metrics, primary, design, alpha) for name in others]
    verdict, winner = _overall(variants)
    return ExperimentVerdict(
        experiment_id=experiment.experiment_id,
        kind=experiment.kind,
        status=experiment.status,
        experiment_version=experiment.version,
        control=experiment.control,
        primary_metric=primary,
        alpha=design.alpha,
        minimum_effect=design.minimum_effect,
        verdict=verdict,
        winner=winner,
        control_calls=sum(1 for c in data.calls if c.variant == experiment.control),
        variants=variants,
        truncated=data.truncated,
        computed_at=datetime.now(UTC),
    )


def with_overrides(design: Design, alpha: float | None, minimum_effect: float | None) -> Design:
    """The design with a request's overrides."""
    return replace(
        design,
        alpha=design.alpha if alpha is None else alpha,
        minimum_effect=design.minimum_effect if minimum_effect is None else minimum_effect,
    )
