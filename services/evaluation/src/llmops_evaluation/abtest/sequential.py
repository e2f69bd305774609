"""The sequential test: a mixture sequential probability ratio test (mSPRT) on a difference of means.

scipy and statsmodels have fixed-horizon tests only, so this is written out from the papers:

* R. Johari, P. Koomen, L. Pekelis, D. Walsh, "Peeking at A/B Tests: Why It Matters, and What to Do About It",
  KDD 2017 (https://doi.org/10.1145/3097983.3097992), section 4, the normal mixture for two streams;
* R. Johari, L. Pekelis, D. Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests",
  Operations Research 70(3), 2022 (https://doi.org/10.1287/opre.2021.2135), for the always-valid p-value and
  the confidence sequence that inverts the same mixture.

The difference of the two arms' means, ``d``, is approximately normal with variance ``V = s_a^2/n_a +
s_b^2/n_b`` (a pooled variance for rates, whose arms can have zero variance). Mixing the likelihood ratio of
``theta`` against 0 over a prior ``theta ~ N(0, tau^2)`` gives

    Lambda = sqrt(V / (V + tau^2)) * exp(d^2 * tau^2 / (2 V (V + tau^2)))

a martingale under the null, so by Ville's inequality ``P(exists n: Lambda_n >= 1/alpha) <= alpha``: rejecting
the first time it crosses is valid however often one looks. ``p_n = min(1, 1 / max_{m<=n} Lambda_m)`` is the
always-valid p-value, and the ``theta`` whose shifted mixture stays under ``1/alpha`` form the confidence
sequence. Here the whole path is evaluated at every observation in time order (cumulative sums), so a
verdict computed at any moment equals what continuous monitoring would have said.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["SequentialResult", "msprt_path"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SequentialResult:
    """Where the mSPRT stands after every observation so far (difference = variant minus control)."""

    estimate: float
    """The current difference of means."""
    p_value: float
    """Always-valid p-value: the smallest alpha at which the test has rejected at some point."""
    low: float
    """The always-valid confidence sequence at the run's alpha, intersected over time."""
    high: float
    mixing_sd: float
    """tau, in the metric's units."""


def _variance_path(
    n_a: FloatArray, s_a: FloatArray, q_a: FloatArray, n_b: FloatArray, s_b: FloatArray, q_b: FloatArray, pooled: bool
) -> FloatArray:
    if pooled:
        mean = (s_a + s_b) / (n_a + n_b)
        spread = (q_a + q_b) / (n_a + n_b) - mean**2
        pooled_var: FloatArray = np.maximum(spread, 0.0) * (1 / n_a + 1 / n_b)
        return pooled_var
    var_a = np.maximum(q_a - s_a**2 / n_a, 0.0) / np.maximum(n_a - 1, 1)
    var_b = np.maximum(q_b - s_b**2 / n_b, 0.0) / np.maximum(n_b - 1, 1)
    welch_var: FloatArray = var_a / n_a + var_b / n_b
    return welch_var


def msprt_path(
    control: FloatArray,
    variant: FloatArray,
    order: NDArray[np.bool_],
    *,
    alpha: float,
    mixing_sd: float,
    min_samples: int,
    pooled: bool = False,
) -> SequentialResult | None:
    """Run the mSPRT over the observations in arrival order.

    ``order`` says, for each observation of the merged stream, whether it is the variant's (True) or the
    control's; ``control`` and ``variant`` are each arm's values in that same order. The path starts once
    both arms have ``min_samples`` (before that, plug-in variances are too noisy). ``mixing_sd`` is tau.
    None when the arms never both reached ``min_samples``.
    """
    merged = np.empty(order.size, dtype=np.float64)
    merged[order], merged[~order] = variant, control
    is_b, is_a = order.astype(np.float64), (~order).astype(np.float64)
    n_a, n_b = np.cumsum(is_a), np.cumsum(is_b)
    s_a, s_b = np.cumsum(merged * is_a), np.cumsum(merged * is_b)
    q_a, q_b = np.cumsum(merged**2 * is_a), np.cumsum(merged**2 * is_b)
    keep = (n_a >= min_samples) & (n_b >= min_samples)
    if not keep.any():
        return None
    n_a, n_b, s_a, s_b, q_a, q_b = (x[keep] for x in (n_a, n_b, s_a, s_b, q_a, q_b))
    diff = s_b / n_b - s_a / n_a
    var = np.maximum(_variance_path(n_a, s_a, q_a, n_b, s_b, q_b, pooled), 1e-300)
    tau2 = mixing_sd**2
    log_lr = 0.5 * np.log(var / (var + tau2)) + diff**2 * tau2 / (2 * var * (var + tau2))
    half = np.sqrt(var * (var + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((var + tau2) / var)))
    low, high = float(np.max(diff - half)), float(np.min(diff + half))
    if low > high:  # the intersection emptied (probability <= alpha): report the latest interval instead
        low, high = float(diff[-1] - half[-1]), float(diff[-1] + half[-1])
    return SequentialResult(
        estimate=float(diff[-1]),
        p_value=float(min(1.0, math.exp(-float(np.max(log_lr))))),
        low=low,
        high=high,
        mixing_sd=mixing_sd,
    )
