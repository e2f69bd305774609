"""Benjamini-Hochberg adjusted p-values: control of the false discovery rate across a check's features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """The BH-adjusted p-values, in the order given: a feature is a discovery at FDR q when its value is <= q.

    Under the global null (no feature drifted) rejecting any of them is Simes' test, so the chance of a
    dataset-level false alarm is at most q too (for independent or positively dependent tests).
    """
    if not p_values:
        return []
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(adjusted)
    result[order] = np.minimum(adjusted, 1.0)
    return [float(value) for value in result]
