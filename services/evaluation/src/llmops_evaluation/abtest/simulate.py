"""Simulated experiments with a known truth, to check the verdict's error rates (tests and benchmarks).

An A/A run draws both arms from one distribution: any verdict other than 'keep running' or 'no difference'
before the horizon is a false positive. A run is peeked at after every batch, as a dashboard or the promotion
policy would, and stops at the first 'better' or 'worse'. The false-positive rate is reported with its
Clopper-Pearson interval (``scipy.stats.binomtest``), whose upper bound is what must stay under alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from llmops_evaluation.abtest.compare import Design, Series, TestName, compare
from llmops_evaluation.abtest.sequential import FloatArray

__all__ = ["Scenario", "SimulationResult", "simulate"]

Distribution = Literal["normal", "lognormal", "bernoulli"]


@dataclass(frozen=True)
class Scenario:
    """One simulated experiment: the metric's distribution, the true effect and how the run is watched."""

    distribution: Distribution
    effect: float
    """normal: shift in standard deviations; lognormal: relative change of every value; bernoulli: added rate."""
    batch_per_arm: int = 100
    batches: int = 20
    base_rate: float = 0.1

    @property
    def test(self) -> TestName:
        return {"normal": "welch", "lognormal": "mann_whitney", "bernoulli": "two_proportion"}[self.distribution]  # type: ignore[return-value]


@dataclass(frozen=True)
class SimulationResult:
    runs: int
    rejections: int
    wrong_sign: int
    ci_low: float
    ci_high: float
    """Clopper-Pearson 95 % interval of the rejection rate."""

    @property
    def rate(self) -> float:
        return self.rejections / self.runs


def _draw(rng: np.random.Generator, scenario: Scenario, n: int, treated: bool) -> FloatArray:
    effect = scenario.effect if treated else 0.0
    if scenario.distribution == "normal":
        return rng.normal(effect, 1.0, n)
    if scenario.distribution == "lognormal":
        return rng.lognormal(0.0, 1.0, n) * (1 + effect)
    return (rng.random(n) < scenario.base_rate + effect).astype(np.float64)


def _one_run(rng: np.random.Generator, scenario: Scenario, design: Design) -> str:
    """The first decisive outcome seen while peeking after every batch ('keep_running' if none)."""
    n = scenario.batch_per_arm * scenario.batches
    a, b = _draw(rng, scenario, n, False), _draw(rng, scenario, n, True)
    ta, tb = rng.random(n) + np.arange(n), rng.random(n) + np.arange(n)
    for k in range(1, scenario.batches + 1):
        m = k * scenario.batch_per_arm
        result = compare("m", scenario.test, "higher", Series(ta[:m], a[:m]), Series(tb[:m], b[:m]), design)
        if result.outcome in ("better", "worse"):
            return result.outcome
    return "keep_running"


def simulate(scenario: Scenario, design: Design, runs: int, seed: int = 0) -> SimulationResult:
    """``runs`` independent experiments of ``scenario``; how many ended 'better' or 'worse'."""
    rng = np.random.default_rng(seed)
    outcomes = [_one_run(rng, scenario, design) for _ in range(runs)]
    rejections = sum(o in ("better", "worse") for o in outcomes)
    wrong = sum(o == "worse" for o in outcomes) if scenario.effect > 0 else 0
    ci = stats.binomtest(rejections, runs).proportion_ci(0.95, method="exact")
    return SimulationResult(runs, rejections, wrong, float(ci.low), float(ci.high))
