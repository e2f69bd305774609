"""A judge-drift check as a ``llmops.drift.reported.v2`` event: the report of the app the judge serves, its
reference the pinned anchor set, its verdict the paired test's (``judge``), each metric mirrored as a feature.

The report id is a UUID (version 5) of the tenant, the monitor and the run, and for a report without a verdict the
time its check started: a run's verdict published twice is one event (the warehouse stores it once), while a
run's timeout and its later verdict are two.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from llmops_schemas.v1 import JudgeMonitorConfigured, TimeWindow
from llmops_schemas.v2 import DriftReference, DriftReported, FeatureDrift, JudgeDrift, JudgeMetricDrift

__all__ = ["judge_report"]

_NAMESPACE = uuid.UUID("6b0f3c2e-7d41-4a8e-9c15-2e8d4f7a1b93")
_NOTE = "judge drift: the verdict is the paired Wilcoxon signed-rank test's, in judge.metrics"


def _feature(evaluator: str, metric: JudgeMetricDrift | None, reason: str | None) -> FeatureDrift:
    measured: dict[str, float | None] = {}
    if metric is not None:
        shift = abs(metric.mean_shift) if metric.mean_shift is not None else None
        measured = {"baseline_mean": metric.baseline_mean, "mean": metric.mean, "wilcoxon": metric.statistic,
                    "abs_mean_shift": shift}  # fmt: skip
    items = metric.items if metric else 0
    return FeatureDrift(
        feature=f"judge:{evaluator}" + (f":{metric.metric}" if metric else ""),
        kind="numeric",
        test="none",
        sample_size=items,
        baseline_sample_size=items,
        statistics={name: value for name, value in measured.items() if value is not None and value >= 0},
        notes=[(metric.note if metric and metric.note else None) or reason or _NOTE],
    )


def judge_report(
    tenant: str,
    monitor: JudgeMonitorConfigured,
    *,
    started: datetime,
    ended: datetime,
    run_id: str | None,
    metrics: Sequence[JudgeMetricDrift] = (),
    reason: str | None = None,
    now: datetime,
) -> DriftReported:
    """The report of one check: ``reason`` (no verdict) when it could not pair anything, else the metrics'."""
    tested = [m for m in metrics if m.drifted is not None]
    if reason is None and not tested:
        reason = "; ".join(m.note for m in metrics if m.note) or "the runs share no scored item"
    dataset_drift = any(m.drifted for m in tested) if reason is None else None
    judge = JudgeDrift(
        monitor_id=monitor.monitor_id, evaluator=monitor.judge.name, dataset=monitor.dataset,
        dataset_version=monitor.dataset_version, baseline_run_id=monitor.baseline_run_id, run_id=run_id,
        min_items=monitor.min_items, min_shift=monitor.min_shift, metrics=list(metrics)[:16],
    )  # fmt: skip
    features = [_feature(monitor.judge.name, m, reason) for m in metrics] or [
        _feature(monitor.judge.name, None, reason)
    ]
    model = monitor.judge.params.get("model")
    # A verdict is one per run; a report without one (the baseline, a timeout, a failure) one per check.
    identity = f"{tenant}|{monitor.monitor_id}|{run_id}|{'verdict' if reason is None else started.isoformat()}"
    return DriftReported(
        report_id=str(uuid.uuid5(_NAMESPACE, identity)),
        app=monitor.app,
        model=model if isinstance(model, str) and model else None,
        window=TimeWindow(start=started, end=max(ended, started + timedelta(milliseconds=1))),
        reference=DriftReference(kind="dataset", dataset_id=f"{monitor.dataset}:{monitor.dataset_version}"),
        dataset_drift=dataset_drift,
        reason=reason[:1024] if reason is not None else None,
        fdr=monitor.alpha,
        features=features[:128],
        sample_size=max((m.items for m in metrics), default=0),
        baseline_sample_size=max((m.items for m in metrics), default=0),
        platform_traffic_included=True,
        computed_at=now,
        judge=judge,
    )
