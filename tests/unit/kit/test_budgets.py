"""The budget ledger: periods, scopes, each cost counted once, thresholds crossed once, reservations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from llmops_kit.budgets import BudgetLedger, period_end, period_start
from llmops_schemas.v1 import BudgetConfigured, BudgetScope


def budget(
    budget_id: str = "b1", *, limit: str = "1", kind: str = "tenant", value: str | None = None, period: str = "daily",
    action: str = "block", thresholds: list[float] | None = None,
) -> BudgetConfigured:  # fmt: skip
    return BudgetConfigured(
        budget_id=budget_id, name=budget_id, scope=BudgetScope(kind=kind, value=value), period=period,  # type: ignore[arg-type]
        limit=Decimal(limit), action=action, thresholds=thresholds or [0.5, 0.8, 1.0], version=1,  # type: ignore[arg-type]
        updated_by="admin", updated_at=datetime.now(UTC),
    )  # fmt: skip


def cost(call_id: str, amount: str | None, *, app: str = "chat", model: str = "m", at: datetime | None = None,
         key_id: str | None = "k1") -> Any:  # fmt: skip
    """A cost event of a call started ``at`` (now, read at the call: the ledger's periods follow the real clock)."""
    return SimpleNamespace(call_id=call_id, cost=Decimal(amount) if amount else None, app=app, model=model,
                           key_id=key_id, user_id=None, call_started_at=at or datetime.now(UTC))  # fmt: skip


def test_periods_start_where_the_calendar_says() -> None:
    at = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday
    assert period_start(at, "daily") == datetime(2026, 3, 18, tzinfo=UTC)
    assert period_start(at, "weekly") == datetime(2026, 3, 16, tzinfo=UTC)
    assert period_start(at, "monthly") == datetime(2026, 3, 1, tzinfo=UTC)
    assert period_start(at, "total").year == 1970


def test_a_cost_counts_once_and_only_in_its_scope() -> None:
    ledger = BudgetLedger()
    ledger.put("acme", budget("app-chat", kind="app", value="chat"))
    ledger.put("acme", budget("key-2", kind="api_key", value="k2"))
    ledger.record("acme", "e1", cost("c1", "0.3"))
    ledger.record("acme", "e1", cost("c1", "0.3"))  # the same event again (a redelivery, a rewind)
    ledger.record("acme", "e2", cost("c2", "0.2", app="search"))
    assert ledger.spend("acme", "app-chat")[1] == Decimal("0.3")  # type: ignore[index]
    assert ledger.spend("acme", "key-2")[1] == Decimal(0)  # type: ignore[index]


def test_a_cost_of_an_earlier_period_does_not_count_in_this_one() -> None:
    ledger = BudgetLedger()
    ledger.put("acme", budget())
    ledger.record("acme", "e1", cost("c1", "0.3", at=datetime.now(UTC) - timedelta(days=2)))
    ledger.record("acme", "e2", cost("c2", "0.1"))
    assert ledger.spend("acme", "b1")[1] == Decimal("0.1")  # type: ignore[index]


def test_each_threshold_is_crossed_once_per_period() -> None:
    ledger = BudgetLedger()
    ledger.put("acme", budget(limit="1"))
    crossed = [c.threshold for i in range(12) for c in ledger.record("acme", f"e{i}", cost(f"c{i}", "0.1"))]
    assert crossed == [0.5, 0.8, 1.0]


def test_an_unpriced_call_costs_nothing() -> None:
    ledger = BudgetLedger()
    ledger.put("acme", budget())
    ledger.record("acme", "e1", cost("c1", None))
    assert ledger.spend("acme", "b1")[1] == Decimal(0)  # type: ignore[index]


def test_reservations_never_exceed_what_remains() -> None:
    ledger = BudgetLedger(default_estimate=Decimal("0.1"))
    ledger.put("acme", budget(limit="1"))
    ledger.record("acme", "e0", cost("c0", "0.75", model="other"))  # model "m" has no cost yet: the default
    admitted = [ledger.reserve("acme", f"c{i}", app="chat", key_id=None, user_id=None, model="m").allowed
                for i in range(1, 6)]  # fmt: skip
    assert admitted == [True, True, False, False, False]
    refusal = ledger.reserve("acme", "c9", app="chat", key_id=None, user_id=None, model="m")
    assert "exhausted" in refusal.message and refusal.budget_id == "b1"


def test_a_cost_event_settles_the_calls_reservation() -> None:
    ledger = BudgetLedger(default_estimate=Decimal("0.5"))
    ledger.put("acme", budget(limit="1"))
    assert ledger.reserve("acme", "c1", app="chat", key_id=None, user_id=None, model="m").allowed
    assert ledger.spend("acme", "b1")[2] == Decimal("0.5")  # type: ignore[index]
    ledger.record("acme", "e1", cost("c1", "0.2"))
    assert ledger.spend("acme", "b1")[1:] == (Decimal("0.2"), Decimal(0))  # type: ignore[index]


def test_a_reservation_without_a_cost_is_released_after_its_hold() -> None:
    now = [1000.0]
    ledger = BudgetLedger(default_estimate=Decimal("0.6"), hold_s=60, clock=lambda: now[0])
    ledger.put("acme", budget(limit="1"))
    assert ledger.reserve("acme", "c1", app="chat", key_id=None, user_id=None, model="m").allowed
    assert not ledger.reserve("acme", "c2", app="chat", key_id=None, user_id=None, model="m").allowed
    now[0] += 61
    assert ledger.reserve("acme", "c2", app="chat", key_id=None, user_id=None, model="m").allowed


def test_alert_only_budgets_never_refuse() -> None:
    ledger = BudgetLedger()
    ledger.put("acme", budget(limit="0.01", action="alert"))
    ledger.record("acme", "e1", cost("c1", "5"))
    assert ledger.reserve("acme", "c2", app="chat", key_id=None, user_id=None, model="m").allowed


def test_periods_end_where_the_next_one_starts() -> None:
    start = datetime(2026, 1, 31, tzinfo=UTC)
    assert period_end(start, "daily") == datetime(2026, 2, 1, tzinfo=UTC)
    assert period_end(datetime(2026, 1, 1, tzinfo=UTC), "monthly") == datetime(2026, 2, 1, tzinfo=UTC)
    assert period_end(datetime(2026, 12, 1, tzinfo=UTC), "monthly") == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end(start, "total") is None


def test_a_cost_from_a_clock_ahead_counts_now_and_keeps_the_period() -> None:
    ledger = BudgetLedger()
    ledger.put("acme", budget())
    ledger.record("acme", "e1", cost("c1", "0.3"))
    ledger.record("acme", "e2", cost("c2", "0.2", at=datetime.now(UTC) + timedelta(days=3)))
    assert ledger.spend("acme", "b1")[1] == Decimal("0.5")  # type: ignore[index]
