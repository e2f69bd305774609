"""Alert rules: the metric catalog, and the observations each kind of rule makes of an event or a metric row.

``metric`` rules read stored metrics through the warehouse (:mod:`llmops_alerting.poller`); ``drift``,
``evaluation_score`` and ``budget`` rules read the event streams (:func:`observe_event`). A rule names its
metric; one the catalog does not have is refused when the rule is created (:func:`check_rule`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetStateChanged, DriftReported
from llmops_schemas.v2 import AlertRuleConfigured, EvaluationScored

from llmops_alerting.engine import Observation

__all__ = ["METRICS", "ScoreWindows", "check_rule", "observe_event", "row_observation"]

METRICS: Mapping[str, str] = {
    "error_rate": "errors / calls over the window (0..1)",
    "errors": "failed calls over the window",
    "calls": "calls over the window",
    "latency_p50_ms": "median latency over the window",
    "latency_p95_ms": "95th percentile latency over the window",
    "latency_p99_ms": "99th percentile latency over the window",
    "total_tokens": "prompt + completion tokens over the window",
}
"""The stored metrics a ``metric`` rule may name: the warehouse's call metrics (``GET /v1/metrics/summary``)."""
LABELS = frozenset({"app", "model", "feature", "budget_id", "metric"})


def check_rule(rule: AlertRuleConfigured) -> None:
    """``ValueError`` with the reason when the rule cannot be evaluated (unknown metric, unknown label)."""
    if rule.kind == "metric" and rule.metric not in METRICS:
        raise ValueError(f"unknown metric {rule.metric!r}; known: {', '.join(sorted(METRICS))}")
    unknown = set(rule.group_by) - LABELS
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}; labels: {', '.join(sorted(LABELS))}")
    if rule.kind == "metric" and set(rule.group_by) == {"app", "model"}:
        raise ValueError("a metric rule groups by app or by model, not both (the warehouse groups by one)")


def _passes(rule: AlertRuleConfigured, value: float) -> bool:
    assert rule.threshold is not None
    return value > rule.threshold if rule.comparison == "above" else value < rule.threshold


def _observation(
    tenant: str,
    rule: AlertRuleConfigured,
    labels: dict[str, str],
    holds: bool,
    at: datetime,
    summary: str,
    value: float | None = None,
    source: str | None = None,
) -> Observation:
    return Observation(
        tenant=tenant,
        rule_id=rule.rule_id,
        rule=rule.name,
        severity=rule.severity,
        labels=labels,
        holds=holds,
        at=at,
        summary=summary,
        value=value,
        group_by=rule.group_by,
        notifiers=rule.notifiers,
        source_event_id=source,
        description=rule.description,
    )


def row_observation(
    tenant: str, rule: AlertRuleConfigured, labels: dict[str, str], row: Mapping[str, Any], at: datetime
) -> Observation:
    """A metric rule on one row of the warehouse's summary (a group, or the whole scope)."""
    assert rule.metric is not None
    value = float(row.get(rule.metric) or 0.0)
    holds = int(row.get("calls") or 0) > 0 and _passes(rule, value)
    scope = ", ".join(f"{k}={v}" for k, v in labels.items()) or "all apps"
    summary = f"{rule.metric} of {scope} is {value:.4g} ({rule.comparison} {rule.threshold:g})"
    return _observation(tenant, rule, labels, holds, at, summary, value)


class ScoreWindows:
    """Recent evaluation scores per (tenant, rule, app), bounded in time and count, for evaluation_score rules."""

    def __init__(self, max_samples: int, min_samples: int) -> None:
        self._max = max_samples
        self.min_samples = min_samples
        self._windows: dict[tuple[str, str, str], deque[tuple[datetime, float]]] = {}

    def add(self, key: tuple[str, str, str], at: datetime, score: float, window: timedelta) -> tuple[float, int]:
        """Add a score; the window's mean and size after dropping what is older than ``window``."""
        samples = self._windows.setdefault(key, deque(maxlen=self._max))
        samples.append((at, score))
        while samples and samples[0][0] < at - window:
            samples.popleft()
        return sum(s for _, s in samples) / len(samples), len(samples)


def _scope_matches(rule: AlertRuleConfigured, app: str | None, model: str | None) -> bool:
    return (rule.app is None or rule.app == app) and (rule.model is None or model is None or rule.model == model)


def _drift(tenant: str, rule: AlertRuleConfigured, event: CloudEvent[Any]) -> list[Observation]:
    """A drift report of any version of the topic: read by field name (``drifted``, or a dataset-level
    ``dataset_drift``), so a newer report version keeps firing the rules (its upcaster may not exist yet)."""
    data = event.data
    app, model = getattr(data, "app", None), getattr(data, "model", None)
    drifted = getattr(data, "drifted", getattr(data, "dataset_drift", None))
    if not isinstance(drifted, bool) or not isinstance(app, str) or not _scope_matches(rule, app, model):
        return []
    feature = str(getattr(data, "feature", None) or "dataset")
    labels = {"app": app, "feature": feature, **({"model": model} if model else {})}
    value = getattr(data, "value", None)
    measured = f"{getattr(data, 'statistic', 'statistic')} {value:.4g}" if isinstance(value, float) else "dataset"
    summary = f"{feature} of {app}: {'drifted' if drifted else 'no drift'} ({measured})"
    at = getattr(data, "computed_at", None) or event.time
    return [_observation(tenant, rule, labels, drifted, at, summary, value, event.id)]


def _budget(tenant: str, rule: AlertRuleConfigured, event: CloudEvent[BudgetStateChanged]) -> list[Observation]:
    data = event.data
    app = data.scope.value if data.scope.kind == "app" else None
    if rule.app is not None and rule.app != app:
        return []
    holds = data.kind != "reset"
    summary = data.message or f"budget {data.budget_id}: {data.kind.replace('_', ' ')} ({data.spent} of {data.limit})"
    labels = {"budget_id": data.budget_id}
    share = float(data.spent) / float(data.limit) if float(data.limit) else None
    return [_observation(tenant, rule, labels, holds, data.occurred_at, summary, share, event.id)]


def _scores(
    tenant: str, rule: AlertRuleConfigured, event: CloudEvent[EvaluationScored], windows: ScoreWindows
) -> list[Observation]:
    data = event.data
    if data.run_id or data.replay_id or not _scope_matches(rule, data.app, None):
        return []  # offline runs and replays are platform traffic
    found: list[Observation] = []
    for item in data.scores:
        if item.metric != rule.metric or item.outcome != "scored" or item.score is None:
            continue
        app = data.app or ""
        window = timedelta(seconds=rule.window_s)
        mean, count = windows.add((tenant, rule.rule_id, app), data.judged_at, item.score, window)
        if count < windows.min_samples:
            continue
        summary = f"mean {rule.metric} of {app or 'all apps'} is {mean:.4g} over {count} scores"
        found.append(
            _observation(
                tenant,
                rule,
                {"app": app, "metric": item.metric},
                _passes(rule, mean),
                data.judged_at,
                summary,
                mean,
                event.id,
            )
        )
    return found


Kinds = dict[type[Any], tuple[str, Callable[..., list[Observation]]]]
KINDS: Kinds = {DriftReported: ("drift", _drift), BudgetStateChanged: ("budget", _budget)}
TOPICS = {DriftReported.topic: KINDS[DriftReported]}
"""Every type of the drift topic is a drift report (a later version included)."""


def observe_event(event: CloudEvent[Any], rules: list[AlertRuleConfigured], windows: ScoreWindows) -> list[Observation]:
    """What ``event`` says about each of its tenant's rules of its kind (nothing for other events)."""
    if isinstance(event.data, EvaluationScored):
        return [o for r in rules if r.kind == "evaluation_score" for o in _scores(event.tenant_id, r, event, windows)]
    kind = KINDS.get(type(event.data)) or TOPICS.get(event.data.topic)
    if kind is None:
        return []
    name, observe = kind
    return [o for r in rules if r.kind == name for o in observe(event.tenant_id, r, event)]
