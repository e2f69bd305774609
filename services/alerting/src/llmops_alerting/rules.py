"""Alert rules: the metric catalog, and the observations each kind of rule makes of an event or a metric row.

``metric`` rules read stored metrics through the warehouse (:mod:`llmops_alerting.poller`); ``drift``,
``evaluation_score``, ``evaluation_score_drop``, ``budget`` and ``cost_anomaly`` rules read the event streams
(:func:`observe_event`; the cost service's spend spikes are alerts on ``llmops.alerts``). A rule names its
metric; one the catalog does not have is refused when the rule is created (:func:`check_rule`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetStateChanged, DriftReported
from llmops_schemas.v2 import AlertRuleConfigured, AlertStateChanged, EvaluationScored

from llmops_alerting.engine import Observation
from llmops_alerting.state import Spikes

__all__ = ["METRICS", "ScoreWindows", "check_rule", "observe_event", "row_observation", "spike_resolutions"]

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
    if rule.kind == "cost_anomaly" and rule.window_s < 3600:
        raise ValueError(
            "a cost_anomaly rule resolves window_s after the last spike: at least 3600 (spikes are hourly)"
        )


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


Samples = deque[tuple[datetime, float]]


class ScoreWindows:
    """Recent evaluation scores per (tenant, rule, app), bounded in time and count, for the evaluation rules."""

    def __init__(self, max_samples: int, min_samples: int) -> None:
        self._max = max_samples
        self.min_samples = min_samples
        self._windows: dict[tuple[str, str, str], Samples] = {}

    def add(self, key: tuple[str, str, str], at: datetime, score: float, keep: timedelta) -> Samples:
        """Add a score; the key's scores after dropping what is older than ``keep`` before ``at``."""
        samples = self._windows.setdefault(key, deque(maxlen=self._max))
        samples.append((at, score))
        while samples and samples[0][0] < at - keep:
            samples.popleft()
        return samples

    @staticmethod
    def mean(samples: Samples, start: datetime, end: datetime) -> tuple[float, int]:
        """The mean and count of the scores in ``[start, end]`` (0 and 0 when there are none)."""
        inside = [score for at, score in samples if start <= at <= end]
        return (sum(inside) / len(inside), len(inside)) if inside else (0.0, 0)


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
    judge = getattr(data, "judge", None)  # a judge-drift report: its own alert per monitor, not the app's traffic's
    feature = str(getattr(data, "feature", None) or (f"judge:{judge.monitor_id}" if judge is not None else "dataset"))
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


def _online_scores(rule: AlertRuleConfigured, event: CloudEvent[EvaluationScored]) -> list[float]:
    data = event.data
    if data.run_id or data.replay_id or not _scope_matches(rule, data.app, None):
        return []  # offline runs and replays are platform traffic
    return [i.score for i in data.scores if i.metric == rule.metric and i.outcome == "scored" and i.score is not None]


def _scores(
    tenant: str, rule: AlertRuleConfigured, event: CloudEvent[EvaluationScored], windows: ScoreWindows
) -> list[Observation]:
    data, app = event.data, event.data.app or ""
    window = timedelta(seconds=rule.window_s)
    found: list[Observation] = []
    for score in _online_scores(rule, event):
        samples = windows.add((tenant, rule.rule_id, app), data.judged_at, score, window)
        mean, count = windows.mean(samples, data.judged_at - window, data.judged_at)
        if count < windows.min_samples:
            continue
        summary = f"mean {rule.metric} of {app or 'all apps'} is {mean:.4g} over {count} scores"
        labels = {"app": app, "metric": str(rule.metric)}
        found.append(_observation(tenant, rule, labels, _passes(rule, mean), data.judged_at, summary, mean, event.id))
    return found


def _score_drop(
    tenant: str, rule: AlertRuleConfigured, event: CloudEvent[EvaluationScored], windows: ScoreWindows
) -> list[Observation]:
    """The mean over the window against the mean over ``baseline_s`` before it: fires while it dropped by more
    than ``threshold`` (both windows need ``min_samples`` scores; otherwise no verdict, nothing changes)."""
    data, app = event.data, event.data.app or ""
    window, baseline = timedelta(seconds=rule.window_s), timedelta(seconds=rule.baseline_s or 0)
    found: list[Observation] = []
    for score in _online_scores(rule, event):
        at = data.judged_at
        samples = windows.add((tenant, rule.rule_id, app), at, score, window + baseline)
        recent, count = windows.mean(samples, at - window, at)
        before, base_count = windows.mean(samples, at - window - baseline, at - window - timedelta(microseconds=1))
        if min(count, base_count) < windows.min_samples:
            continue
        drop = before - recent
        summary = f"mean {rule.metric} of {app or 'all apps'} is {recent:.4g}, {drop:+.4g} below {before:.4g} before"
        labels = {"app": app, "metric": str(rule.metric)}
        holds = drop > (rule.threshold or 0.0)
        found.append(_observation(tenant, rule, labels, holds, at, summary, drop, event.id))
    return found


EVALUATION = {"evaluation_score": _scores, "evaluation_score_drop": _score_drop}

COST_SPIKE_RULE = "cost-spike"
"""The rule name of the cost service's spend spikes (``llmops.alerts``, without a rule id)."""


def _cost_spike(
    tenant: str,
    rule: AlertRuleConfigured,
    event: CloudEvent[AlertStateChanged],
    spikes: Spikes | None,
    now: datetime | None,
) -> list[Observation]:
    """A spend spike of the cost service (an app's or a model's hour) as this rule's alert for that group; a
    spike older than ``window_s`` (history read at a first start) is ignored: it would resolve at once."""
    data = event.data
    group_by = data.labels.get("group_by", "")
    group = data.labels.get(group_by) if group_by in ("app", "model") else None
    if data.rule != COST_SPIKE_RULE or data.rule_id is not None or data.status != "firing" or group is None:
        return []  # the alerting service's own changes carry a rule id
    scope = {"app": rule.app, "model": rule.model}
    if any(wanted is not None and (group_by != name or group != wanted) for name, wanted in scope.items()):
        return []
    until = data.starts_at + timedelta(hours=1)
    if now is not None and now - until >= timedelta(seconds=rule.window_s):
        return []
    found = _observation(tenant, rule, {group_by: group}, True, until, data.summary, data.value, event.id)
    if spikes is not None:
        spikes.saw(tenant, found.alert_id, until)
    return [found]


def spike_resolutions(
    tenant: str, rule: AlertRuleConfigured, open_alerts: list[AlertStateChanged], spikes: Spikes, now: datetime
) -> list[Observation]:
    """Resolve the rule's cost-anomaly alerts whose last spike ended ``window_s`` ago or more."""
    found = []
    for alert in open_alerts:
        if alert.rule_id != rule.rule_id:
            continue
        last = spikes.last(tenant, alert.alert_id) or alert.starts_at
        if now - last >= timedelta(seconds=rule.window_s):
            summary = f"no spend spike since {last.isoformat()}"
            found.append(_observation(tenant, rule, dict(alert.labels), False, now, summary))
            spikes.forget(tenant, alert.alert_id)
    return found


Kinds = dict[type[Any], tuple[str, Callable[..., list[Observation]]]]
KINDS: Kinds = {DriftReported: ("drift", _drift), BudgetStateChanged: ("budget", _budget)}
TOPICS = {DriftReported.topic: KINDS[DriftReported]}
"""Every type of the drift topic is a drift report (a later version included)."""


def observe_event(
    event: CloudEvent[Any],
    rules: list[AlertRuleConfigured],
    windows: ScoreWindows,
    spikes: Spikes | None = None,
    now: datetime | None = None,
) -> list[Observation]:
    """What ``event`` says about each of its tenant's rules of its kind (nothing for other events); ``now``
    ages cost spikes."""
    tenant = event.tenant_id
    if isinstance(event.data, EvaluationScored):
        return [o for r in rules if r.kind in EVALUATION for o in EVALUATION[r.kind](tenant, r, event, windows)]
    if isinstance(event.data, AlertStateChanged):
        return [o for r in rules if r.kind == "cost_anomaly" for o in _cost_spike(tenant, r, event, spikes, now)]
    kind = KINDS.get(type(event.data)) or TOPICS.get(event.data.topic)
    if kind is None:
        return []
    name, observe = kind
    return [o for r in rules if r.kind == name for o in observe(tenant, r, event)]
