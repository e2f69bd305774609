"""The judge-drift check: each anchor item's score in this run paired with its score in the baseline run.

The items are the same each time (a pinned dataset version), so the test is paired: the Wilcoxon signed-rank
test on the per-item differences (scipy; exact for small sets without ties), per metric of the judge, the
p-values adjusted by Benjamini-Hochberg across the metrics. A metric drifted when its adjusted p-value is at most
``alpha`` and its mean shift is at least ``min_shift``: with enough items any shift is significant, and a judge
that moved by a hundredth of a point has not drifted for anyone. Fewer than ``min_items`` pairs: no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from statistics import fmean
from typing import Any

from llmops_schemas.v2 import JudgeMetricDrift
from scipy import stats

__all__ = ["Pairs", "check_pairs", "pairs_of"]

Pairs = dict[str, list[tuple[float, float]]]
"""Per metric, (baseline score, this run's score) of every item scored in both runs."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def pairs_of(examples: Iterable[Mapping[str, Any]], evaluator: str) -> Pairs:
    """The judge's pairs from the evaluation service's per-example comparison rows (other evaluators ignored,
    an item unscored in either run left out)."""
    pairs: Pairs = {}
    for row in examples:
        if row.get("evaluator") != evaluator:
            continue
        before, after = _number(row.get("baseline")), _number(row.get("candidate"))
        metric = str(row.get("metric") or "score")
        pairs.setdefault(metric, [])
        if before is not None and after is not None:
            pairs[metric].append((before, after))
    return pairs


def _signed_rank(diffs: list[float]) -> tuple[float, float]:
    """The Wilcoxon signed-rank statistic and two-sided p-value of ``diffs`` (no change at all: 0 and 1)."""
    if not any(diffs):
        return 0.0, 1.0
    result = stats.wilcoxon(diffs)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    return statistic, (p_value if math.isfinite(p_value) else 1.0)


def check_pairs(pairs: Pairs, *, min_items: int, min_shift: float, alpha: float) -> list[JudgeMetricDrift]:
    """One result per metric, with a verdict where it has at least ``min_items`` pairs."""
    tested: dict[str, tuple[float, float]] = {}
    for metric, items in pairs.items():
        if len(items) >= min_items:
            tested[metric] = _signed_rank([after - before for before, after in items])
    adjusted = (
        dict(zip(tested, stats.false_discovery_control([p for _, p in tested.values()]), strict=True)) if tested else {}
    )
    results = []
    for metric, items in sorted(pairs.items())[:16]:
        base = fmean(b for b, _ in items) if items else None
        mean = fmean(a for _, a in items) if items else None
        shift = fmean(a - b for b, a in items) if items else None
        if metric not in tested:
            note = f"too few paired items: {len(items)} (minimum {min_items})"
            results.append(JudgeMetricDrift(metric=metric, items=len(items), baseline_mean=base, mean=mean,
                                            mean_shift=shift, note=note))  # fmt: skip
            continue
        statistic, p_value = tested[metric]
        p_adjusted = min(1.0, float(adjusted[metric]))
        drifted = p_adjusted <= alpha and shift is not None and abs(shift) >= min_shift
        results.append(JudgeMetricDrift(
            metric=metric, items=len(items), baseline_mean=base, mean=mean, mean_shift=shift, statistic=statistic,
            p_value=p_value, p_value_adjusted=p_adjusted, drifted=drifted,
        ))  # fmt: skip
    return results
