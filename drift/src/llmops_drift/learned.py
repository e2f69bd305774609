"""Tests for text and embeddings: a cross-validated domain classifier (ROC AUC) and the kernel MMD.

Domain classifier: a model is trained to tell current rows from reference rows (TF-IDF and logistic regression
for text, logistic regression on the vectors for embeddings), ``FOLDS``-fold cross-validated; the statistic is
the mean held-out ROC AUC, 0.5 when the two cannot be told apart. Each fold's AUC is a Mann-Whitney U of scores
from a model that did not see those rows, so each fold has an exact null p-value; but the folds' tests are
positively correlated (a chance association in the sample helps every fold), so summing their U is not valid
(measured: 12 % false alarms at a 5 % level). The p-value is twice the median of the folds' p-values, which is
valid whatever their dependence (Meinshausen, Meier and Buehlmann 2009, quantile aggregation with gamma 1/2).

MMD: the unbiased squared maximum mean discrepancy with a Gaussian kernel (bandwidth by the median heuristic),
p-value by permutation. Both bound their cost by sampling at most ``max_rows`` rows per side (seeded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial.distance import cdist
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

__all__ = ["ClassifierOutcome", "MmdOutcome", "domain_classifier", "mmd_test"]

FOLDS = 5
_BATCH = 500
"""Relabellings per matrix product in the MMD test (memory: rows x batch floats)."""


@dataclass(frozen=True)
class ClassifierOutcome:
    """Out-of-fold ROC AUC of the reference-vs-current classifier, and its one-sided p-value."""

    auc: float
    p_value: float
    rows: tuple[int, int]


@dataclass(frozen=True)
class MmdOutcome:
    """Unbiased MMD squared, its permutation p-value, and the rows compared."""

    mmd2: float
    p_value: float
    rows: tuple[int, int]


def _sample(count: int, limit: int, rng: np.random.Generator) -> NDArray[np.intp]:
    return np.sort(rng.choice(count, size=limit, replace=False)) if count > limit else np.arange(count)


def _tfidf(texts: list[str]) -> Any:
    """TF-IDF of words seen twice or more; of every word when no word is (small or very diverse samples)."""
    try:
        return TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=20_000).fit_transform(texts)
    except ValueError:  # "empty vocabulary": min_df=2 left no word
        return TfidfVectorizer(sublinear_tf=True, max_features=20_000).fit_transform(texts)


def _fold_u(labels: NDArray[np.float64], scores: NDArray[np.float64]) -> tuple[float, float, float]:
    """Mann-Whitney U of one fold's current-row scores over its reference-row scores, its null mean and variance."""
    n_cur = float(labels.sum())
    n_ref = len(labels) - n_cur
    u = float(stats.rankdata(scores)[labels == 1].sum()) - n_cur * (n_cur + 1) / 2
    return u, n_ref * n_cur / 2, n_ref * n_cur * (n_ref + n_cur + 1) / 12


def _aggregate(folds: list[tuple[float, float, float]]) -> tuple[float, float]:
    """The folds' mean AUC and the aggregated p-value (twice the median of the folds' one-sided p-values)."""
    aucs = [u / (2 * mean) for u, mean, _ in folds]
    p_values = [float(stats.norm.sf((u - mean) / math.sqrt(var))) if var > 0 else 1.0 for u, mean, var in folds]
    return float(np.mean(aucs)), min(1.0, 2 * float(np.median(p_values)))


def domain_classifier(
    reference: Sequence[str] | NDArray[np.float64],
    current: Sequence[str] | NDArray[np.float64],
    *,
    max_rows: int,
    seed: int,
) -> ClassifierOutcome:
    """How well current rows can be told from reference rows (texts, or an array of vectors per side)."""
    rng = np.random.default_rng(seed)
    ref_rows, cur_rows = _sample(len(reference), max_rows, rng), _sample(len(current), max_rows, rng)
    labels = np.r_[np.zeros(len(ref_rows)), np.ones(len(cur_rows))]
    if isinstance(reference, np.ndarray) and isinstance(current, np.ndarray):
        features = np.vstack([reference[ref_rows], current[cur_rows]])
    else:
        texts = [reference[i] for i in ref_rows] + [current[i] for i in cur_rows]
        features = _tfidf(texts)
    folds = []
    for train, test in StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(features, labels):
        model = LogisticRegression(solver="liblinear")  # 10x faster than lbfgs here, same AUC
        model.fit(features[train], labels[train])
        folds.append(_fold_u(labels[test], model.decision_function(features[test])))
    auc, p_value = _aggregate(folds)
    return ClassifierOutcome(auc, p_value, (len(ref_rows), len(cur_rows)))


def _mmd2(kernel: NDArray[np.float64], is_current: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Unbiased MMD squared for each column of labels (rows x labellings), by matrix products, not loops."""
    y = is_current.astype(np.float64)
    x = 1.0 - y
    n, m = x.sum(axis=0), y.sum(axis=0)
    ky, kx = kernel @ y, kernel @ x
    diagonal = np.diag(kernel)  # 1 for this kernel; kept general
    kxx = ((x * kx).sum(axis=0) - diagonal @ x) / (n * (n - 1))
    kyy = ((y * ky).sum(axis=0) - diagonal @ y) / (m * (m - 1))
    return np.asarray(kxx + kyy - 2 * (x * ky).sum(axis=0) / (n * m))


def _exceeding(
    kernel: NDArray[np.float64], is_current: NDArray[np.bool_], observed: float, count: int, rng: np.random.Generator
) -> int:
    """How many of ``count`` random relabellings give an MMD at least ``observed`` (in batches: bounded memory)."""
    exceed = 0
    for done in range(0, count, _BATCH):
        batch = min(_BATCH, count - done)
        shuffled = np.column_stack([rng.permutation(is_current) for _ in range(batch)])
        exceed += int((_mmd2(kernel, shuffled) >= observed).sum())
    return exceed


def mmd_test(
    reference: NDArray[np.float64],
    current: NDArray[np.float64],
    *,
    max_rows: int,
    permutations: int,
    seed: int,
    max_permutations: int | None = None,
) -> MmdOutcome:
    """Kernel two-sample test of two arrays of vectors (rows are observations).

    ``permutations`` relabellings first; when none reaches the observed MMD (the p-value is at its floor,
    1 / (1 + permutations)), more up to ``max_permutations`` in all, so that a small p-value can be told apart
    from a merely unremarkable one (a sequential Monte Carlo test: it stops early only when the p-value is
    already large).
    """
    rng = np.random.default_rng(seed)
    ref = reference[_sample(len(reference), max_rows, rng)]
    cur = current[_sample(len(current), max_rows, rng)]
    pooled = np.vstack([ref, cur])
    squared = cdist(pooled, pooled, "sqeuclidean")
    bandwidth = float(np.median(squared[squared > 0])) if (squared > 0).any() else 1.0
    kernel = np.exp(-squared / bandwidth)
    is_current = np.r_[np.zeros(len(ref), bool), np.ones(len(cur), bool)]
    observed = float(_mmd2(kernel, is_current[:, None])[0])
    done, exceed = permutations, _exceeding(kernel, is_current, observed, permutations, rng)
    if exceed == 0 and max_permutations is not None and max_permutations > permutations:
        exceed = _exceeding(kernel, is_current, observed, max_permutations - permutations, rng)
        done = max_permutations
    return MmdOutcome(max(observed, 0.0), (1 + exceed) / (1 + done), (len(ref), len(cur)))
