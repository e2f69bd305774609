"""Objectives: error budgets and the SRE workbook's multi-window, multi-burn-rate alerts.

An objective's error budget is ``1 - target`` of its events over its window. The burn rate over a window is the
share of bad events there divided by the budget: 1 spends exactly the budget over the objective's window. The
alerts follow "The Site Reliability Workbook", chapter 5 ("Alerting on SLOs", multiwindow, multi-burn-rate):

* fast burn (page): 2 % of the budget spent in 1 h, confirmed over 5 min; or 5 % in 6 h, confirmed over 30 min;
* slow burn (ticket): 10 % in 3 days, confirmed over 6 h.

The thresholds are derived from those budget shares and the objective's own window (14.4 and 6 for 30 days,
13.44 and 5.6 for 28). Both windows of a pair must burn faster than the threshold: the long one says it matters,
the short one that it is still going on (so the alert resolves soon after the burning stops). Everything takes
the time as an argument (an injectable clock), so tests need no waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from llmops_schemas.v1 import ObjectiveConfigured

from llmops_alerting.engine import Observation

__all__ = [
    "BURN_ALERTS",
    "BurnAlert",
    "Counts",
    "ObjectiveStatus",
    "burn_observations",
    "burn_rate",
    "evaluate_objective",
]


@dataclass(frozen=True)
class BurnAlert:
    """A pair of windows and the share of the budget that, spent within the long one, raises the alert."""

    name: str
    long: timedelta
    short: timedelta
    budget_share: float

    def threshold(self, objective_window: timedelta) -> float:
        return self.budget_share * (objective_window / self.long)


BURN_ALERTS = (
    BurnAlert("fast", timedelta(hours=1), timedelta(minutes=5), 0.02),
    BurnAlert("fast", timedelta(hours=6), timedelta(minutes=30), 0.05),
    BurnAlert("slow", timedelta(days=3), timedelta(hours=6), 0.10),
)


@dataclass(frozen=True)
class Counts:
    """Good and total events of one window."""

    good: float
    total: float
    truncated: bool = False
    """The read stopped at its bound: the counts cover the newest events of the window only."""

    @property
    def bad_ratio(self) -> float:
        return (self.total - self.good) / self.total if self.total > 0 else 0.0


CountReader = Callable[[ObjectiveConfigured, datetime, datetime], Awaitable[Counts]]


def burn_rate(counts: Counts, target: float) -> float:
    """How fast the window spends the budget: 1 spends it exactly over the objective's window."""
    return counts.bad_ratio / (1 - target)


@dataclass(frozen=True)
class ObjectiveStatus:
    """An objective now: its SLI over the window, the budget left and the burn rate of every alert window."""

    objective_id: str
    sli: float | None
    target: float
    events: float
    budget_remaining: float
    burn_rates: dict[str, float]
    burning: dict[str, bool]
    truncated: bool = False


async def evaluate_objective(objective: ObjectiveConfigured, now: datetime, read: CountReader) -> ObjectiveStatus:
    """The objective's status at ``now`` from the counts ``read`` gives for each window."""
    window = timedelta(days=objective.window_days)
    whole = await read(objective, now - window, now)
    rates: dict[str, float] = {}
    burning = {"fast": False, "slow": False}
    for alert in BURN_ALERTS:
        spans = (alert.long, alert.short)
        long_rate, short_rate = [burn_rate(await read(objective, now - s, now), objective.target) for s in spans]
        rates[f"{_label(alert.long)}"] = long_rate
        rates[f"{_label(alert.short)}"] = short_rate
        limit = alert.threshold(window)
        burning[alert.name] |= long_rate > limit and short_rate > limit
    spent = whole.bad_ratio / (1 - objective.target)
    sli = whole.good / whole.total if whole.total else None
    return ObjectiveStatus(
        objective.objective_id, sli, objective.target, whole.total, 1 - spent, rates, burning, whole.truncated
    )


def _label(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def burn_observations(
    tenant: str, objective: ObjectiveConfigured, status: ObjectiveStatus, now: datetime
) -> list[Observation]:
    """One observation per burn speed: fires while that pair of windows burns, resolves when it stops."""
    found = []
    for speed, holds in status.burning.items():
        severity = objective.severity if speed == "fast" else "warning"
        left = f"{status.budget_remaining:.1%}"
        summary = f"objective {objective.objective_id} of {objective.app}: {speed} burn, {left} of the budget left"
        found.append(
            Observation(
                tenant=tenant,
                rule_id=f"objective:{objective.objective_id}",
                rule=f"objective {speed} burn",
                severity=severity,
                labels={"app": objective.app, "objective": objective.objective_id, "burn": speed},
                holds=holds,
                at=now,
                summary=summary,
                value=status.burn_rates.get("1h"),
                notifiers=objective.notifiers,
            )
        )
    return found
