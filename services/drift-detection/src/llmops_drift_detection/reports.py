"""A closed window's drift check as a ``llmops.drift.reported.v2`` event.

The report id derives from the scope, the window and the reference, so a window checked again after a restart
(closed, published, then killed before its entries were deleted) yields the same event and the warehouse
keeps one. The id is a UUID (name-based, version 5): it is also the event's CloudEvent id, and the warehouse
keys its rows by UUID (it dead-letters any other id).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from llmops_drift import DriftConfig, DriftReport, FeatureResult, Kind, check, columns_of
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import DriftReference, DriftReported, FeatureDrift

from llmops_drift_detection.features import NUMERIC, Row, Scope

__all__ = ["build_report", "no_reference_reason", "report_id"]

_KINDS = {name: Kind.NUMERIC for name in NUMERIC}
_NAMESPACE = uuid.UUID("3e9a7c1d-2f4b-4d6e-9b8a-1c5f7e0d2a64")


def report_id(scope: Scope, window: TimeWindow, reference: DriftReference) -> str:
    """The same scope, window and reference give the same UUID (the idempotency key and the event's id)."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope.encode()}|{window.start.isoformat()}|{reference.model_dump_json()}"))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _feature(name: str, result: FeatureResult) -> FeatureDrift:
    statistics = {k: v for k, v in result.statistics.items() if math.isfinite(v) and v >= 0}
    return FeatureDrift(
        feature=name,
        kind=result.kind.value,
        test=result.test if result.drift is not None else "none",
        statistic=_finite(result.statistic),
        threshold=result.threshold,
        p_value=_finite(result.p_value),
        p_value_adjusted=_finite(result.p_value_adjusted),
        effect=result.effect,
        effect_size=_finite(result.effect_size),
        effect_threshold=result.effect_threshold,
        drifted=result.drift,
        sample_size=result.sample_size[1],
        baseline_sample_size=result.sample_size[0],
        statistics=dict(list(statistics.items())[:16]),
        notes=[note[:1024] for note in result.notes[:16]],
    )


def no_reference_reason(calls: int, reference_calls: int, min_samples: int) -> str | None:
    """Why there is no verdict before any test runs (too few calls on a side), or None."""
    if reference_calls == 0:
        return "no reference yet: this is the scope's first window"
    if calls < min_samples or reference_calls < min_samples:
        return (
            f"too few samples: {calls} calls in the window, {reference_calls} in the reference (minimum {min_samples})"
        )
    return None


def build_report(
    scope: Scope,
    window: TimeWindow,
    reference: DriftReference,
    current: Sequence[Row],
    baseline: Sequence[Row],
    *,
    config: DriftConfig,
    min_samples: int,
    include_platform: bool,
    now: datetime | None = None,
) -> DriftReported:
    """The check of ``current`` against ``baseline`` (no verdict, with the reason, when either is too small)."""
    reason = no_reference_reason(len(current), len(baseline), min_samples)
    drift: DriftReport | None = None
    if reason is None:
        drift = check(columns_of(baseline), columns_of(current), kinds=_KINDS, config=config)
        reason = drift.reason if drift.dataset_drift is None else None
    features = [_feature(name, result) for name, result in drift.features.items()] if drift else []
    if not features:  # the event names at least one feature: the window's size, untested
        untested = FeatureDrift(
            feature="calls", kind="numeric", test="none", sample_size=len(current),
            baseline_sample_size=len(baseline), notes=[reason or "no feature tested"],
        )  # fmt: skip
        features = [untested]
    dataset_drift = drift.dataset_drift if drift and reason is None else None
    return DriftReported(
        report_id=report_id(scope, window, reference),
        app=scope.app,
        environment=scope.environment,
        model=scope.model,
        prompt_name=scope.prompt_name,
        prompt_version=scope.prompt_version,
        window=window,
        reference=reference,
        dataset_drift=dataset_drift,
        reason=(reason or "no verdict")[:1024] if dataset_drift is None else None,
        fdr=config.fdr,
        features=features[:128],
        sample_size=len(current),
        baseline_sample_size=len(baseline),
        platform_traffic_included=include_platform,
        computed_at=now or datetime.now(UTC),
    )
