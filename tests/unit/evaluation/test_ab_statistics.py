"""The A/B statistics against simulated experiments with a known truth (the full 2,000-run check: benchmarks/).

Each simulated experiment is peeked at after every batch and stops at the first 'better' or 'worse'. The false
positive rate of A/A runs must have its upper 95 % Clopper-Pearson bound at or under alpha; these reduced runs
use alpha 0.1 so that a few hundred runs can show it (``benchmarks/bench_ab_verdicts.py`` checks 0.05 on
2,000 runs per distribution).
"""

from __future__ import annotations

import numpy as np
import pytest
from llmops_evaluation.abtest.compare import Design, Series, compare
from llmops_evaluation.abtest.sequential import msprt_path
from llmops_evaluation.abtest.simulate import Scenario, simulate
from scipy import stats

DESIGN = Design(alpha=0.1, minimum_effect=0.1, min_samples=100)


@pytest.mark.parametrize(
    ("distribution", "runs"), [("normal", 400), ("bernoulli", 300)], ids=["continuous", "proportion"]
)
def test_aa_false_positive_rate_stays_under_alpha_while_peeking(distribution: str, runs: int) -> None:
    result = simulate(Scenario(distribution, 0.0, batches=10), DESIGN, runs, seed=7)  # type: ignore[arg-type]
    assert result.ci_high <= DESIGN.alpha, result


def test_power_for_a_stated_effect_and_sample_size() -> None:
    """0.2 standard deviations, 1,000 calls per arm, peeked at every 100: power at least 0.8 (its lower bound)."""
    result = simulate(Scenario("normal", 0.2, batches=10), Design(alpha=0.05), 150, seed=3)
    assert result.ci_low >= 0.8, result
    assert result.wrong_sign == 0


def test_a_fixed_horizon_test_peeked_at_is_not_valid() -> None:
    """The check above can fail: Welch's p-value read after every batch rejects far more often than alpha."""
    rng = np.random.default_rng(11)
    rejected = 0
    for _ in range(150):
        a, b = rng.normal(0, 1, 1000), rng.normal(0, 1, 1000)
        rejected += any(stats.ttest_ind(a[:m], b[:m]).pvalue <= 0.1 for m in range(100, 1001, 100))
    assert stats.binomtest(rejected, 150).proportion_ci(0.95).low > DESIGN.alpha


def series(values: np.ndarray, offset: float = 0.0) -> Series:
    return Series(np.arange(values.size, dtype=np.float64) + offset, values.astype(np.float64))


def test_each_metric_gets_its_test_and_effect_size() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(3.0, 1.0, 3000), rng.normal(3.5, 1.0, 3000)
    scores = compare("relevance", "welch", "higher", series(a), series(b, 0.5), DESIGN)
    assert (scores.outcome, scores.effect_size_name) == ("better", "cohens_d")
    assert scores.ci_low is not None and scores.ci_low < 0.5 < (scores.ci_high or 0)
    assert scores.sequential_low is not None and scores.sequential_low < 0.5 < (scores.sequential_high or 0)
    assert scores.effect_size == pytest.approx(0.5, abs=0.1)

    slow = compare("latency_ms", "mann_whitney", "lower", series(rng.lognormal(5, 1, 2000)),
                   series(rng.lognormal(5.3, 1, 2000), 0.5), DESIGN)  # fmt: skip
    assert (slow.outcome, slow.effect_size_name) == ("worse", "rank_biserial") and (slow.effect_size or 0) > 0
    assert slow.ci_low is None and slow.control.p95 is not None

    errors = compare("error_rate", "two_proportion", "lower", series((rng.random(4000) < 0.05) * 1.0),
                     series((rng.random(4000) < 0.02) * 1.0, 0.5), DESIGN)  # fmt: skip
    assert (errors.outcome, errors.effect_size_name) == ("better", "cohens_h") and (errors.difference or 0) < 0


def test_too_few_observations_keep_running_and_a_tight_interval_is_no_difference() -> None:
    rng = np.random.default_rng(2)
    few = compare("relevance", "welch", "higher", series(rng.normal(0, 1, 50)), series(rng.normal(0, 1, 50)), DESIGN)
    assert few.outcome == "keep_running" and few.sequential_p_value is None and few.p_value is not None
    a, b = rng.normal(0, 1, 200_000), rng.normal(0, 1, 200_000)
    same = compare("relevance", "welch", "higher", series(a), series(b, 0.5), Design(alpha=0.1, max_samples=10**7))
    assert same.outcome == "no_difference" and "within" in same.reason
    flat = compare("json_valid", "welch", "higher", series(np.ones(500)), series(np.ones(500)), DESIGN)
    assert flat.outcome == "keep_running" and "not varied" in flat.reason
    capped = Design(alpha=0.1, max_samples=500)
    assert compare("json_valid", "welch", "higher", series(np.ones(500)), series(np.ones(500)), capped).outcome == (
        "no_difference"
    )


def test_past_max_samples_without_a_difference_is_no_difference() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 600), rng.normal(0, 1, 600)
    capped = compare("relevance", "welch", "higher", series(a), series(b, 0.5), Design(alpha=0.1, max_samples=500))
    assert capped.outcome == "no_difference" and "500 observations" in capped.reason


def test_msprt_matches_the_closed_form_mixture() -> None:
    """One arm of 0s and one of 1s-and-0s: the mixture ratio at the last step, computed by hand."""
    a, b = np.array([0.0, 1.0] * 50), np.array([1.0, 1.0, 0.0, 1.0] * 25)
    order = np.array([False, True] * 100)
    result = msprt_path(a, b, order, alpha=0.05, mixing_sd=0.2, min_samples=100, pooled=True)
    assert result is not None
    p = (a.sum() + b.sum()) / 200
    v = p * (1 - p) * (1 / 100 + 1 / 100)
    d = b.mean() - a.mean()
    log_lr = 0.5 * np.log(v / (v + 0.04)) + d**2 * 0.04 / (2 * v * (v + 0.04))
    assert result.estimate == pytest.approx(0.25)
    assert result.p_value == pytest.approx(min(1.0, float(np.exp(-log_lr))))
    assert result.low < 0.25 < result.high
