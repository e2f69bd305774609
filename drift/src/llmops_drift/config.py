"""The engine's knobs, with the defaults `llmops drift check` and the drift-detection service use."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmops_drift.columns import Kind

__all__ = ["DriftConfig"]


def _minimum_samples() -> dict[Kind, int]:
    # Below these a test's approximation (KS, chi-square) or a 5-fold classifier is not worth a verdict.
    return {Kind.NUMERIC: 30, Kind.CATEGORICAL: 30, Kind.TEXT: 50, Kind.EMBEDDING: 30}


def _effect_floors() -> dict[Kind, float]:
    # The smallest effect called drift: 0.1 reference standard deviations (Wasserstein), a Jensen-Shannon
    # distance of 0.1, a classifier AUC of 0.55; none for MMD (its permutation test alone decides).
    return {Kind.NUMERIC: 0.1, Kind.CATEGORICAL: 0.1, Kind.TEXT: 0.55, Kind.EMBEDDING: 0.0}


@dataclass(frozen=True)
class DriftConfig:
    """``fdr``: the Benjamini-Hochberg false discovery rate across features (also the dataset false-alarm bound).

    0.01 rather than the textbook 0.05: the service checks every window, and a 5 % false alarm rate per window
    would page someone about once a day on hourly windows (ADR 0039).

    ``min_samples``: per kind, the fewest present values on each side for a verdict. ``effect_floor``: per kind,
    the effect size a significant difference must also reach. ``max_rows``/``mmd_permutations``: bounds on the
    cost of the classifier and MMD (rows sampled per side; seeded by ``seed``, so a check is reproducible).
    ``topics``: when above 0, each text and embedding feature also gets a ``<name>:topic`` feature, its rows'
    clusters in a model of that many topics fitted on the reference (``llmops_drift.topics``); 0, the default,
    adds none. ``mmd_permutations`` is the first round of the MMD test: more follow when none reaches the
    observed statistic, enough for an embedding to pass Benjamini-Hochberg alone (``llmops_drift.features``).
    """

    fdr: float = 0.01
    min_samples: dict[Kind, int] = field(default_factory=_minimum_samples)
    effect_floor: dict[Kind, float] = field(default_factory=_effect_floors)
    max_rows: int = 2_000
    mmd_max_rows: int = 500
    mmd_permutations: int = 200
    topics: int = 0
    seed: int = 0
