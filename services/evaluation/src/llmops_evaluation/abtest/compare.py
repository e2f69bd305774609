"""One metric, one variant against the control: the fixed-horizon test that fits the metric, and the mSPRT.

Which test (scipy and statsmodels carry them all):

* ``welch``: bounded, roughly symmetric values (evaluation scores, ratings): Welch's t-test
  (``scipy.stats.ttest_ind(equal_var=False)``) with its interval, effect size Cohen's d;
* ``mann_whitney``: skewed, heavy-tailed values (latency, cost): ``scipy.stats.mannwhitneyu``, effect size the
  rank-biserial correlation (no interval of its own: the sequence below is the interval);
* ``two_proportion``: rates (errors, thumbs up): statsmodels' two-proportion z-test and Newcombe interval,
  effect size Cohen's h.

Their p-values hold only at a sample size fixed in advance: they are reported, never used for the verdict.
The verdict comes from the sequential test (:mod:`.sequential`), valid however often it is looked at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats

from llmops_evaluation.abtest.sequential import FloatArray, SequentialResult, msprt_path

__all__ = ["ArmSummary", "Design", "MetricComparison", "Outcome", "Series", "TestName", "compare"]

TestName = Literal["welch", "mann_whitney", "two_proportion"]
Outcome = Literal["better", "worse", "no_difference", "keep_running"]


@dataclass(frozen=True)
class Design:
    """The knobs of a comparison (``EVALUATION_VERDICT_*`` settings, or a request's overrides)."""

    alpha: float = 0.05
    minimum_effect: float = 0.1
    """Smallest difference that matters, in standard deviations of the metric: it sets the mixture's tau and
    the band inside which a confidence sequence means 'no difference'."""
    min_samples: int = 100
    """Per arm, before the sequential test starts (plug-in variances of fewer are too noisy)."""
    max_samples: int = 20_000
    """Per arm: past it without a difference, the answer is 'no difference'."""


@dataclass(frozen=True)
class Series:
    """One arm's values of one metric, with their times (seconds) so the arms can be merged in arrival order."""

    times: FloatArray
    values: FloatArray

    @classmethod
    def of(cls, pairs: list[tuple[float, float]]) -> Series:
        ordered = sorted(pairs)
        return cls(np.array([t for t, _ in ordered], dtype=np.float64), np.array([v for _, v in ordered]))

    @property
    def n(self) -> int:
        return int(self.values.size)


class ArmSummary(BaseModel):
    """One arm's distribution of the metric."""

    n: int
    mean: float | None
    sd: float | None = None
    median: float | None = None
    p95: float | None = None


class MetricComparison(BaseModel):
    """A variant against the control on one metric; differences are variant minus control."""

    metric: str
    test: TestName
    better: Literal["higher", "lower"]
    control: ArmSummary
    variant: ArmSummary
    difference: float | None = None
    relative_difference: float | None = Field(default=None, description="difference / control mean")
    effect_size: float | None = None
    effect_size_name: Literal["cohens_d", "rank_biserial", "cohens_h"]
    p_value: float | None = Field(default=None, description="Fixed-horizon test: valid at a planned sample size only")
    ci_low: float | None = Field(default=None, description="Fixed-horizon interval of the difference")
    ci_high: float | None = None
    sequential_p_value: float | None = Field(default=None, description="Always-valid p-value (mSPRT)")
    sequential_low: float | None = Field(default=None, description="Always-valid confidence sequence")
    sequential_high: float | None = None
    outcome: Outcome
    reason: str


_EFFECT_NAME: dict[TestName, Literal["cohens_d", "rank_biserial", "cohens_h"]] = {
    "welch": "cohens_d",
    "mann_whitney": "rank_biserial",
    "two_proportion": "cohens_h",
}


def _summary(values: FloatArray, test: TestName) -> ArmSummary:
    if values.size == 0:
        return ArmSummary(n=0, mean=None)
    if test == "two_proportion":
        return ArmSummary(n=int(values.size), mean=float(values.mean()))
    sd = float(values.std(ddof=1)) if values.size > 1 else None
    median, p95 = np.quantile(values, [0.5, 0.95])
    return ArmSummary(n=int(values.size), mean=float(values.mean()), sd=sd, median=float(median), p95=float(p95))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _fixed(test: TestName, a: FloatArray, b: FloatArray, alpha: float) -> tuple[float | None, ...]:
    """(p-value, interval low, interval high, effect size) of the fixed-horizon test."""
    if test == "welch":
        result = stats.ttest_ind(b, a, equal_var=False)
        ci = result.confidence_interval(1 - alpha)
        pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        d = (b.mean() - a.mean()) / pooled if pooled > 0 else math.nan
        return _finite(result.pvalue), _finite(ci.low), _finite(ci.high), _finite(d)
    if test == "mann_whitney":
        u, p = stats.mannwhitneyu(b, a, alternative="two-sided")
        return _finite(p), None, None, _finite(2 * u / (a.size * b.size) - 1)
    # Imported on the first rate comparison: statsmodels imports pandas, seconds of every service start.
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

    hits_a, hits_b = int(a.sum()), int(b.sum())
    _, p = proportions_ztest([hits_b, hits_a], [b.size, a.size])
    low, high = confint_proportions_2indep(hits_b, b.size, hits_a, a.size, method="newcomb", alpha=alpha)
    h = proportion_effectsize(hits_b / b.size, hits_a / a.size)
    return _finite(p), _finite(low), _finite(high), _finite(h)


def _scale(a: FloatArray, b: FloatArray) -> float:
    """The metric's standard deviation over both arms (the unit of ``minimum_effect``)."""
    both = np.concatenate([a, b])
    return float(both.std(ddof=1)) if both.size > 1 else 0.0


def _sequential(
    control: Series, variant: Series, test: TestName, design: Design, alpha: float
) -> SequentialResult | None:
    scale = _scale(control.values, variant.values)
    if scale <= 0:
        return None
    times = np.concatenate([control.times, variant.times])
    is_variant = np.concatenate([np.zeros(control.n, dtype=bool), np.ones(variant.n, dtype=bool)])
    arrival = np.argsort(times, kind="stable")
    return msprt_path(
        control.values,
        variant.values,
        is_variant[arrival],
        alpha=alpha,
        mixing_sd=design.minimum_effect * scale,
        min_samples=design.min_samples,
        pooled=test == "two_proportion",
    )


def _outcome(
    seq: SequentialResult | None, n: int, band: float, better: str, design: Design, alpha: float
) -> tuple[Outcome, str]:
    if seq is None:
        if n < design.min_samples:
            return "keep_running", f"fewer than {design.min_samples} observations in an arm"
        if n >= design.max_samples:
            return "no_difference", f"{design.max_samples} observations per arm, all of one value"
        return "keep_running", "the metric has not varied yet (one value in both arms)"
    if seq.p_value <= alpha:
        good = (seq.estimate > 0) == (better == "higher")
        return ("better" if good else "worse"), f"always-valid p {seq.p_value:.3g} <= {alpha:.3g}"
    if -band < seq.low and seq.high < band:
        return "no_difference", f"the difference is within +/-{band:.3g} (the minimum effect)"
    if n >= design.max_samples:
        return "no_difference", f"{design.max_samples} observations per arm without a difference"
    return "keep_running", f"always-valid p {seq.p_value:.3g} > {alpha:.3g}"


def compare(
    metric: str,
    test: TestName,
    better: Literal["higher", "lower"],
    control: Series,
    variant: Series,
    design: Design,
    *,
    alpha: float | None = None,
) -> MetricComparison:
    """The variant against the control on ``metric``; ``alpha`` overrides the design's (Bonferroni over arms)."""
    level = design.alpha if alpha is None else alpha
    a, b = control.values, variant.values
    fixed: tuple[float | None, ...] = (None, None, None, None)
    seq = None
    if a.size >= 2 and b.size >= 2 and _scale(a, b) > 0:  # constant values: nothing to test
        fixed = _fixed(test, a, b, level)
        seq = _sequential(control, variant, test, design, level)
    difference = float(b.mean() - a.mean()) if a.size and b.size else None
    band = design.minimum_effect * _scale(a, b) if a.size + b.size > 1 else 0.0
    outcome, reason = _outcome(seq, min(a.size, b.size), band, better, design, level)
    return MetricComparison(
        metric=metric,
        test=test,
        better=better,
        control=_summary(a, test),
        variant=_summary(b, test),
        difference=difference,
        relative_difference=difference / float(a.mean()) if difference is not None and a.mean() != 0 else None,
        effect_size=fixed[3],
        effect_size_name=_EFFECT_NAME[test],
        p_value=fixed[0],
        ci_low=fixed[1],
        ci_high=fixed[2],
        sequential_p_value=seq.p_value if seq else None,
        sequential_low=seq.low if seq else None,
        sequential_high=seq.high if seq else None,
        outcome=outcome,
        reason=reason,
    )
