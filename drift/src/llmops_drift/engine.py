"""A drift check of a dataset: every feature's test, Benjamini-Hochberg across them, and the dataset verdict.

The dataset verdict (``DATASET_RULE``): the current data drifted when at least one feature drifted, and a feature
drifted when its test is significant after the Benjamini-Hochberg correction at ``fdr`` across the features that
have a verdict AND its effect size reaches its kind's floor. The correction bounds dataset false alarms by
``fdr``; the floor keeps a significant but negligible shift (large samples detect anything) from being drift.
With no feature able to give a verdict (too few samples), the dataset verdict is None, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmops_drift.columns import Kind, infer_kind
from llmops_drift.config import DriftConfig
from llmops_drift.features import Measured, measure
from llmops_drift.multiple import benjamini_hochberg
from llmops_drift.topics import topic_columns

__all__ = ["DATASET_RULE", "DriftReport", "FeatureResult", "check"]

DATASET_RULE = (
    "dataset drift = at least one feature drifted; a feature drifted when its Benjamini-Hochberg adjusted "
    "p-value <= fdr and its effect size >= the floor of its kind"
)

Columns = Mapping[str, Sequence[object]]


@dataclass(frozen=True)
class FeatureResult:
    """One feature's verdict: ``drift`` is None when there is no verdict (``notes`` say why)."""

    kind: Kind
    test: str
    statistic: float | None
    threshold: float
    p_value: float | None
    p_value_adjusted: float | None
    effect: str | None
    effect_size: float | None
    effect_threshold: float
    drift: bool | None
    sample_size: tuple[int, int]
    statistics: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The feature as `llmops drift check --json` prints it."""
        return {
            "kind": self.kind.value,
            "test": self.test,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "p_value": self.p_value,
            "p_value_adjusted": self.p_value_adjusted,
            "drift": self.drift,
            "effect": {"measure": self.effect, "value": self.effect_size, "threshold": self.effect_threshold},
            "sample_size": {"reference": self.sample_size[0], "current": self.sample_size[1]},
            "statistics": self.statistics,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class DriftReport:
    """A check's outcome: the dataset verdict, each feature's result, and the reason when there is no verdict."""

    dataset_drift: bool | None
    features: dict[str, FeatureResult]
    fdr: float
    reason: str | None = None

    @property
    def drifted(self) -> list[str]:
        """The names of the features that drifted."""
        return [name for name, result in self.features.items() if result.drift]

    def as_json(self) -> dict[str, Any]:
        """The report as `llmops drift check --json` prints it."""
        return {
            "dataset_drift": self.dataset_drift,
            "reason": self.reason,
            "rule": DATASET_RULE,
            "fdr": self.fdr,
            "drifted_features": self.drifted,
            "features": {name: result.as_json() for name, result in self.features.items()},
        }


def _kinds(reference: Columns, current: Columns, given: Mapping[str, Kind]) -> dict[str, Kind]:
    names = [*reference, *(name for name in current if name not in reference)]
    return {name: given.get(name) or infer_kind([*reference.get(name, ()), *current.get(name, ())]) for name in names}


def _absent(kind: Kind, side: str, sizes: tuple[int, int]) -> Measured:
    return Measured(kind, "none", None, None, None, None, sizes, notes=(f"absent from {side}",))


def _measure_all(
    reference: Columns, current: Columns, kinds: dict[str, Kind], config: DriftConfig
) -> dict[str, Measured]:
    measured = {}
    for name, kind in kinds.items():
        ref, cur = reference.get(name), current.get(name)
        if ref is None or cur is None:
            measured[name] = _absent(kind, "reference" if ref is None else "current", (len(ref or ()), len(cur or ())))
        else:
            measured[name] = measure(name, kind, ref, cur, config, features=len(kinds))
    return measured


def _decide(measured: Measured, adjusted: float | None, config: DriftConfig) -> FeatureResult:
    floor = config.effect_floor[measured.kind]
    drift = None
    if adjusted is not None and measured.effect_size is not None:
        drift = adjusted <= config.fdr and measured.effect_size >= floor
    return FeatureResult(
        measured.kind, measured.test, measured.statistic, config.fdr, measured.p_value, adjusted, measured.effect,
        measured.effect_size, floor, drift, measured.sizes, measured.statistics, measured.notes,
    )  # fmt: skip


def check(
    reference: Columns,
    current: Columns,
    kinds: Mapping[str, Kind] | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` (columns of values by feature name; ``kinds`` overrides inference)."""
    config = config or DriftConfig()
    kinds_of = _kinds(reference, current, kinds or {})
    if config.topics:
        extra_ref, extra_cur = topic_columns(reference, current, kinds_of, topics=config.topics,
                                             min_rows=config.min_samples, seed=config.seed)  # fmt: skip
        reference, current = {**reference, **extra_ref}, {**current, **extra_cur}
        kinds_of |= dict.fromkeys(extra_ref, Kind.CATEGORICAL)
    measured = _measure_all(reference, current, kinds_of, config)
    tested = [name for name, m in measured.items() if m.p_value is not None]
    adjusted = dict(zip(tested, benjamini_hochberg([measured[n].p_value or 0.0 for n in tested]), strict=True))
    features = {name: _decide(m, adjusted.get(name), config) for name, m in measured.items()}
    if not tested:
        return DriftReport(None, features, config.fdr, "no feature had enough samples for a verdict")
    return DriftReport(any(result.drift for result in features.values()), features, config.fdr)
