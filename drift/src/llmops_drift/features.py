"""One feature's comparison: clean its values for its kind, check the sample sizes, run its kind's test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from llmops_drift.categorical import categorical_test
from llmops_drift.columns import Kind, categorical_values, numeric_column, vectors
from llmops_drift.config import DriftConfig
from llmops_drift.learned import domain_classifier, mmd_test
from llmops_drift.numeric import numeric_test

__all__ = ["Measured", "measure"]


@dataclass(frozen=True)
class Measured:
    """A feature's test before the multiple-testing correction: no ``p_value`` means no verdict."""

    kind: Kind
    test: str
    statistic: float | None
    p_value: float | None
    effect: str | None
    effect_size: float | None
    sizes: tuple[int, int]
    statistics: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _too_few(kind: Kind, sizes: tuple[int, int], config: DriftConfig, notes: list[str]) -> Measured | None:
    needed = config.min_samples[kind]
    if min(sizes) >= needed:
        return None
    notes.append(f"too few samples for a verdict: {sizes[0]} in reference, {sizes[1]} in current, {needed} needed")
    return Measured(kind, "none", None, None, None, None, sizes, notes=tuple(notes))


def _numeric(reference: Sequence[object], current: Sequence[object], config: DriftConfig) -> Measured:
    ref, cur = numeric_column(reference), numeric_column(current)
    notes = [
        f"{count} {what} value(s) in {side} left out"
        for side, column in (("reference", ref), ("current", cur))
        for what, count in (
            ("missing", column.missing),
            ("infinite", column.infinite),
            ("non-numeric", column.not_numbers),
        )
        if count
    ]
    sizes = (len(ref.values), len(cur.values))
    if (early := _too_few(Kind.NUMERIC, sizes, config, notes)) is not None:
        return early
    out = numeric_test(ref.values, cur.values)
    notes += [
        f"constant in {side}"
        for side, flag in (("reference", out.constant_reference), ("current", out.constant_current))
        if flag
    ]
    statistics = {
        "ks": out.ks,
        "psi": out.psi,
        "wasserstein": out.wasserstein,
        "wasserstein_norm": out.wasserstein_norm,
    }
    return Measured(
        Kind.NUMERIC,
        "ks",
        out.ks,
        out.p_value,
        "wasserstein_norm",
        out.wasserstein_norm,
        sizes,
        statistics,
        tuple(notes),
    )


def _categorical(reference: Sequence[object], current: Sequence[object], config: DriftConfig) -> Measured:
    ref, cur = categorical_values(reference), categorical_values(current)
    sizes, notes = (len(ref), len(cur)), list[str]()
    if (early := _too_few(Kind.CATEGORICAL, sizes, config, notes)) is not None:
        return early
    out = categorical_test(ref, cur)
    if out.unseen:
        shown = ", ".join(repr(name) for name in out.unseen)
        notes.append(f"categories never seen in reference ({out.unseen_share:.1%} of current): {shown}")
    if out.categories == 1:
        notes.append("constant: one category in reference and current")
    statistics = {"chi2": out.chi2, "js_distance": out.js_distance, "unseen_share": out.unseen_share}
    return Measured(
        Kind.CATEGORICAL, "chi2", out.chi2, out.p_value, "js_distance", out.js_distance, sizes, statistics, tuple(notes)
    )


def _texts(values: Sequence[object]) -> list[str]:
    return [value if isinstance(value, str) else str(value) for value in values if value is not None]


def _text(reference: Sequence[object], current: Sequence[object], config: DriftConfig) -> Measured:
    ref, cur = _texts(reference), _texts(current)
    sizes = (len(ref), len(cur))
    notes = [
        f"{n} missing value(s) in {side} left out"
        for side, n in (("reference", len(reference) - sizes[0]), ("current", len(current) - sizes[1]))
        if n
    ]
    if (early := _too_few(Kind.TEXT, sizes, config, notes)) is not None:
        return early
    if len(set(ref) | set(cur)) == 1 or not any(text.split() for text in (*ref, *cur)):
        notes.append(
            "constant: one text in reference and current" if len(set(ref) | set(cur)) == 1 else "no words in any text"
        )
        return Measured(Kind.TEXT, "domain_classifier", 0.5, 1.0, "roc_auc", 0.5, sizes, {"roc_auc": 0.5}, tuple(notes))
    out = domain_classifier(ref, cur, max_rows=config.max_rows, seed=config.seed)
    return Measured(
        Kind.TEXT,
        "domain_classifier",
        out.auc,
        out.p_value,
        "roc_auc",
        out.auc,
        sizes,
        {"roc_auc": out.auc},
        tuple(notes),
    )


def _permutations(config: DriftConfig, features: int) -> int:
    """Enough permutations for an MMD p-value to pass Benjamini-Hochberg alone among ``features`` tests.

    The smallest permutation p-value is 1 / (1 + permutations), and BH's smallest threshold is fdr / features:
    with 200 permutations an embedding could never drift alone among three features at fdr 0.01. Twice the
    bound, so that a drift plain in every permutation passes with room.
    """
    return max(config.mmd_permutations, math.ceil(2 * features / config.fdr))


def _embedding(
    name: str, reference: Sequence[object], current: Sequence[object], config: DriftConfig, features: int
) -> Measured:
    (ref, _), (cur, _) = vectors(name, reference), vectors(name, current)
    if len(ref) and len(cur) and ref.shape[1] != cur.shape[1]:
        raise ValueError(f"feature {name!r}: {ref.shape[1]}-dimensional reference, {cur.shape[1]}-dimensional current")
    sizes = (len(ref), len(cur))
    left_out = (len(reference) - sizes[0], len(current) - sizes[1])
    notes = [
        f"{n} missing or non-finite vector(s) in {side} left out"
        for side, n in zip(("reference", "current"), left_out, strict=True)
        if n
    ]
    if (early := _too_few(Kind.EMBEDDING, sizes, config, notes)) is not None:
        return early
    out = mmd_test(ref, cur, max_rows=config.mmd_max_rows, permutations=config.mmd_permutations,
                   max_permutations=_permutations(config, features), seed=config.seed)  # fmt: skip
    auc = domain_classifier(ref, cur, max_rows=config.max_rows, seed=config.seed).auc
    return Measured(
        Kind.EMBEDDING,
        "mmd",
        out.mmd2,
        out.p_value,
        "mmd2",
        out.mmd2,
        sizes,
        {"mmd2": out.mmd2, "roc_auc": auc},
        tuple(notes),
    )


def measure(
    name: str,
    kind: Kind,
    reference: Sequence[object],
    current: Sequence[object],
    config: DriftConfig,
    features: int = 1,
) -> Measured:
    """The test of one feature of ``kind`` among ``features`` tested together (``ValueError`` for values that
    cannot be that kind)."""
    if kind is Kind.NUMERIC:
        return _numeric(reference, current, config)
    if kind is Kind.CATEGORICAL:
        return _categorical(reference, current, config)
    if kind is Kind.TEXT:
        return _text(reference, current, config)
    return _embedding(name, reference, current, config, features)
