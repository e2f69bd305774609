"""Two-sample tests of a categorical feature: chi-square homogeneity (the decision) and Jensen-Shannon distance.

The chi-square test is of the 2 x k table of counts (reference and current rows), so a category never seen in
the reference needs no special case: its expected count comes from both samples. Categories with fewer than
``MIN_EXPECTED`` pooled observations are merged into one bucket first (the test's approximation needs it).
The Jensen-Shannon distance (base 2, in [0, 1]) over all categories, unmerged, is the effect size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial.distance import jensenshannon

__all__ = ["MIN_EXPECTED", "CategoricalOutcome", "categorical_test"]

MIN_EXPECTED = 5
_SHOWN_UNSEEN = 5


@dataclass(frozen=True)
class CategoricalOutcome:
    """The statistics of one categorical comparison."""

    chi2: float
    p_value: float
    js_distance: float
    categories: int
    unseen: tuple[str, ...]
    unseen_share: float


def _table(reference: Counter[str], current: Counter[str]) -> NDArray[np.float64]:
    names = sorted(reference.keys() | current.keys())
    table = np.array([[reference[n] for n in names], [current[n] for n in names]], dtype=np.float64)
    rare = table.sum(axis=0) < MIN_EXPECTED
    if rare.any():
        table = np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])
    return table[:, table.sum(axis=0) > 0]


def categorical_test(reference: Sequence[str], current: Sequence[str]) -> CategoricalOutcome:
    """Chi-square and Jensen-Shannon of two non-empty samples of categories."""
    ref, cur = Counter(reference), Counter(current)
    table = _table(ref, cur)
    if table.shape[1] < 2:
        chi2, p_value = 0.0, 1.0  # one category (after merging) on both sides: nothing can differ
    else:
        result = stats.chi2_contingency(table, correction=False)
        chi2, p_value = float(result.statistic), float(result.pvalue)
    names = sorted(ref.keys() | cur.keys())
    p = np.array([ref[n] for n in names], dtype=np.float64) / len(reference)
    q = np.array([cur[n] for n in names], dtype=np.float64) / len(current)
    unseen = sorted((n for n in cur if n not in ref), key=lambda n: -cur[n])
    return CategoricalOutcome(
        chi2=chi2,
        p_value=p_value,
        js_distance=float(jensenshannon(p, q, base=2)),
        categories=len(names),
        unseen=tuple(unseen[:_SHOWN_UNSEEN]),
        unseen_share=sum(cur[n] for n in unseen) / len(current),
    )
