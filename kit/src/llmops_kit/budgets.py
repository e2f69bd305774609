"""Budgets held in memory: each budget's spend in its current period, reservations, and threshold crossings.

One :class:`BudgetLedger` per process, fed with budget definitions (``llmops.budgets.config``) and cost events
(``llmops.costs.recorded``) by :class:`~llmops_kit.budget_feed.BudgetFeed`. The gateway asks it before each call
(:meth:`BudgetLedger.reserve`: a dictionary walk, no I/O) and the cost service reads the thresholds crossed.

Reserve then settle (docs/adr/0038): a call reserves an estimate on every blocking budget it falls under, and is
admitted only if the estimate fits what remains (limit - spent - reserved) on each; its reservation is released
when its cost event arrives (the actual cost then counts as spent) or after ``hold_s``. Admitted reservations
never exceed the remaining budget, so the overspend of one process is at most the sum of (actual - estimate) over
the calls it admitted. The estimate is the largest cost of one call of the model seen so far for the tenant,
else ``default_estimate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from llmops_schemas.v1 import BudgetConfigured
from llmops_schemas.v1.cost import BudgetPeriod

__all__ = ["BudgetLedger", "Crossing", "Decision", "period_end", "period_start"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(at: datetime, period: BudgetPeriod) -> datetime:
    """The start (UTC) of the budget period ``at`` falls in; ``total`` never resets."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return _EPOCH


def period_end(start: datetime, period: BudgetPeriod) -> datetime | None:
    """When the period that began at ``start`` ends; None for ``total``."""
    if period == "daily":
        return start + timedelta(days=1)
    if period == "weekly":
        return start + timedelta(days=7)
    if period == "monthly":
        return (start + timedelta(days=32)).replace(day=1)
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a call may go ahead; ``message`` says which budget refused it and ``retry_after_s`` when its
    period ends (None: it never resets)."""

    allowed: bool
    message: str = ""
    budget_id: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Crossing:
    """A budget's spend reached one of its thresholds (a share of the limit) in a period."""

    tenant: str
    budget: BudgetConfigured
    period_start: datetime
    threshold: float
    spent: Decimal


@dataclass
class _Spend:
    """One budget's current period: spend, the cost events counted (each once) and reservations by call."""

    period_start: datetime
    spent: Decimal = field(default_factory=Decimal)
    counted: set[str] = field(default_factory=set)
    reserved: dict[str, tuple[Decimal, float]] = field(default_factory=dict)
    crossed: set[float] = field(default_factory=set)
    lower_bound: str | None = None
    """Why ``spent`` may miss part of the period (a bounded warehouse seed cut short), or None."""

    def reserved_total(self, now: float) -> Decimal:
        expired = [call for call, (_, until) in self.reserved.items() if until < now]
        for call in expired:
            del self.reserved[call]
        return sum((amount for amount, _ in self.reserved.values()), Decimal(0))


def _in_scope(budget: BudgetConfigured, app: str, key_id: str | None, user_id: str | None, model: str) -> bool:
    scope = budget.scope
    value = {"tenant": None, "app": app, "api_key": key_id, "user": user_id, "model": model}[scope.kind]
    return scope.kind == "tenant" or value == scope.value


class BudgetLedger:
    """Budgets per tenant with their current spend; not thread-safe (one event loop owns it)."""

    def __init__(
        self,
        *,
        default_estimate: Decimal = Decimal("0.01"),
        hold_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_estimate = default_estimate
        self.hold_s = hold_s
        self._clock = clock
        self._budgets: dict[str, dict[str, BudgetConfigured]] = {}
        self._spend: dict[tuple[str, str], _Spend] = {}
        self._largest: dict[tuple[str, str], Decimal] = {}

    def put(self, tenant: str, budget: BudgetConfigured) -> None:
        """Define or redefine a budget (its spend in the current period is kept)."""
        self._budgets.setdefault(tenant, {})[budget.budget_id] = budget

    def remove(self, tenant: str, budget_id: str) -> None:
        self._budgets.get(tenant, {}).pop(budget_id, None)
        self._spend.pop((tenant, budget_id), None)

    def budgets(self, tenant: str) -> list[BudgetConfigured]:
        return list(self._budgets.get(tenant, {}).values())

    def budget(self, tenant: str, budget_id: str) -> BudgetConfigured | None:
        return self._budgets.get(tenant, {}).get(budget_id)

    def tenants(self) -> list[str]:
        return [tenant for tenant, budgets in self._budgets.items() if budgets]

    def has_budgets(self, tenant: str) -> bool:
        return bool(self._budgets.get(tenant))

    def _current(self, tenant: str, budget: BudgetConfigured, at: datetime) -> _Spend:
        start = period_start(at, budget.period)
        spend = self._spend.get((tenant, budget.budget_id))
        if spend is None or spend.period_start < start:
            spend = _Spend(start)
            self._spend[(tenant, budget.budget_id)] = spend
        return spend

    def spend(self, tenant: str, budget_id: str) -> tuple[datetime, Decimal, Decimal] | None:
        """The budget's current period start, spend and reserved amount; None for an unknown budget."""
        budget = self.budget(tenant, budget_id)
        if budget is None:
            return None
        spend = self._current(tenant, budget, datetime.now(UTC))
        return spend.period_start, spend.spent, spend.reserved_total(self._clock())

    def mark_lower_bound(self, tenant: str, budget_id: str, reason: str) -> None:
        """Say that the budget's spend this period is a lower bound (some of its cost events were not counted)."""
        budget = self.budget(tenant, budget_id)
        if budget is not None:
            self._current(tenant, budget, datetime.now(UTC)).lower_bound = reason

    def lower_bound(self, tenant: str, budget_id: str) -> str | None:
        """Why the budget's current spend is only a lower bound, or None when it counts the whole period."""
        budget = self.budget(tenant, budget_id)
        return None if budget is None else self._current(tenant, budget, datetime.now(UTC)).lower_bound

    def estimate(self, tenant: str, model: str) -> Decimal:
        return self._largest.get((tenant, model), self.default_estimate)

    def reserve(
        self, tenant: str, call_id: str, *, app: str, key_id: str | None, user_id: str | None, model: str
    ) -> Decision:
        """Admit the call if its estimate fits every blocking budget it falls under, and reserve it there."""
        budgets = self._budgets.get(tenant)
        if not budgets:
            return Decision(True)
        now, at = self._clock(), datetime.now(UTC)
        estimate = self.estimate(tenant, model)
        held: list[_Spend] = []
        for budget in budgets.values():
            if budget.action != "block" or not budget.enabled or not _in_scope(budget, app, key_id, user_id, model):
                continue
            spend = self._current(tenant, budget, at)
            if spend.spent + spend.reserved_total(now) + estimate > budget.limit:
                left = max(budget.limit - spend.spent, Decimal(0))
                message = (
                    f"budget {budget.name!r} ({budget.period}, {budget.limit} {budget.currency}) is exhausted: "
                    f"{left} {budget.currency} left, this call is estimated at {estimate}"
                )
                end = period_end(spend.period_start, budget.period)
                retry = max((end - at).total_seconds(), 1.0) if end is not None else None
                return Decision(False, message, budget.budget_id, retry)
            held.append(spend)
        for spend in held:
            spend.reserved[call_id] = (estimate, now + self.hold_s)
        return Decision(True)

    def record(self, tenant: str, event_id: str, data: Any) -> list[Crossing]:
        """Count one cost event (``CostRecorded``: ``cost``, ``app``, ``model``, ``key_id``, ``user_id``,
        ``call_id``, ``call_started_at``) once on each budget it falls under; the thresholds it crossed."""
        cost: Decimal = data.cost if data.cost is not None else Decimal(0)
        key = (tenant, data.model)
        if cost > self._largest.get(key, Decimal(0)):
            self._largest[key] = cost
        crossings: list[Crossing] = []
        # A call "started" in the future (a producer's clock ahead) counts now: it must not open a period early.
        at = min(data.call_started_at, datetime.now(UTC))
        for budget in self._budgets.get(tenant, {}).values():
            if not _in_scope(budget, data.app, data.key_id, data.user_id, data.model):
                continue
            spend = self._current(tenant, budget, at)
            if period_start(at, budget.period) != spend.period_start or event_id in spend.counted:
                continue  # a cost of an earlier period (clock skew, a late event) or one already counted
            spend.counted.add(event_id)
            spend.reserved.pop(data.call_id, None)
            spend.spent += cost
            crossings += self._crossed(tenant, budget, spend)
        return crossings

    def crossings(self, tenant: str) -> list[Crossing]:
        """The thresholds the tenant's budgets crossed in the period they last counted (spend as it is now)."""
        found: list[Crossing] = []
        for budget in self._budgets.get(tenant, {}).values():
            spend = self._spend.get((tenant, budget.budget_id))
            if spend is not None:
                found += [Crossing(tenant, budget, spend.period_start, s, spend.spent) for s in sorted(spend.crossed)]
        return found

    def _crossed(self, tenant: str, budget: BudgetConfigured, spend: _Spend) -> Iterable[Crossing]:
        for share in budget.thresholds:
            if share not in spend.crossed and spend.spent >= budget.limit * Decimal(repr(share)):
                spend.crossed.add(share)
                yield Crossing(tenant, budget, spend.period_start, share, spend.spent)
