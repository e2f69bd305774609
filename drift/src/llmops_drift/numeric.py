"""Two-sample tests of a numeric feature: Kolmogorov-Smirnov (the decision), PSI and Wasserstein (reported).

The Wasserstein distance is divided by the reference's standard deviation (the pooled one when the reference is
constant), so it reads as "the distributions are this many reference standard deviations apart" and serves as the
effect size the decision also requires: a significant but tiny shift is not drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = ["PSI_BINS", "NumericOutcome", "numeric_test", "population_stability_index"]

PSI_BINS = 10
_EMPTY_BIN = 1e-4  # a bin empty on one side would make PSI infinite; the usual floor


@dataclass(frozen=True)
class NumericOutcome:
    """The statistics of one numeric comparison."""

    ks: float
    p_value: float
    wasserstein: float
    wasserstein_norm: float
    psi: float
    constant_reference: bool
    constant_current: bool


def population_stability_index(reference: NDArray[np.float64], current: NDArray[np.float64]) -> float:
    """PSI over ``PSI_BINS`` bins at the reference's quantiles (fewer when quantiles coincide)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    p = np.maximum(expected / len(reference), _EMPTY_BIN)
    q = np.maximum(actual / len(current), _EMPTY_BIN)
    return float(np.sum((q - p) * np.log(q / p)))


def _scale(reference: NDArray[np.float64], current: NDArray[np.float64]) -> float:
    spread = float(np.std(reference))
    return spread if spread > 0 else float(np.std(np.concatenate([reference, current])))


def numeric_test(reference: NDArray[np.float64], current: NDArray[np.float64]) -> NumericOutcome:
    """KS, PSI and (normalised) Wasserstein of two non-empty samples of finite numbers."""
    ks = stats.ks_2samp(reference, current)
    distance = float(stats.wasserstein_distance(reference, current))
    scale = _scale(reference, current)
    return NumericOutcome(
        ks=float(ks.statistic),
        p_value=float(ks.pvalue),
        wasserstein=distance,
        wasserstein_norm=distance / scale if scale > 0 else 0.0,
        psi=population_stability_index(reference, current),
        constant_reference=bool(np.ptp(reference) == 0),
        constant_current=bool(np.ptp(current) == 0),
    )
