"""Budgets seeded from the warehouse: the period's spend older than the cost topic holds counts, once, whatever
the topic replays of the same stretch; a seed cut short by its bounds marks the spend as a lower bound.

The warehouse is the kit's HistoryReader fake (tests/unit/feedback/history.py, checked against the real reader by
its contract suite); the counting path is the feed's own (CostView.count), the one Kafka's records take.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from llmops_kit.budget_feed import CostView
from llmops_kit.budget_seed import TABLE, BudgetSeeder
from llmops_kit.budgets import BudgetLedger, Crossing
from llmops_kit.warehouse import HistoryError, HistoryRows
from llmops_schemas.v2 import CostRecorded

from tests.unit.feedback.history import InMemoryHistory
from tests.unit.kit.test_budgets import budget

NOW = datetime.now(UTC)
HOLDS = timedelta(days=14)
OLD = NOW - timedelta(days=40)  # older than what the topic holds
RECENT = NOW - timedelta(hours=1)  # in the topic and, once stored, in the warehouse too


def cost(call_id: str, amount: str, at: datetime) -> CostRecorded:
    return CostRecorded(
        call_id=call_id, app="chat", model="m", provider="p", prompt_tokens=1, completion_tokens=1,
        catalog_version="v1", price_source="catalog", cost=Decimal(amount), call_started_at=at, recorded_at=at,
    )  # fmt: skip


def stored(history: InMemoryHistory, event_id: str, data: CostRecorded, tenant: str = "acme") -> None:
    history.add(tenant, TABLE, data.model_dump(mode="json"), data.call_started_at, event_id=event_id)


def setup(
    history: Any, **options: Any
) -> tuple[BudgetLedger, CostView, BudgetSeeder, list[Crossing]]:  # fmt: skip
    ledger, crossed = BudgetLedger(), []
    view = CostView(ledger, crossed.extend)
    ledger.put("acme", budget("all-time", period="total", limit="100"))
    seeder = BudgetSeeder(ledger, history, view.count, kafka_holds=HOLDS, now=lambda: NOW, **options)
    return ledger, view, seeder, crossed


def spent(ledger: BudgetLedger, budget_id: str = "all-time") -> Decimal:
    found = ledger.spend("acme", budget_id)
    assert found is not None
    return found[1]


async def test_older_spend_counts_once_whatever_the_topic_replays() -> None:
    history = InMemoryHistory()
    stored(history, "e-old", cost("c1", "3", OLD))
    stored(history, "e-edge", cost("c2", "2", NOW - HOLDS + timedelta(hours=1)))  # in both: the overlap
    ledger, view, seeder, _ = setup(history)
    await seeder.seed_all()
    # Then the topic replays what it holds, the overlapping event included, and one the warehouse lacks.
    view.count("acme", "e-edge", cost("c2", "2", NOW - HOLDS + timedelta(hours=1)))
    view.count("acme", "e-new", cost("c3", "1", RECENT))
    assert spent(ledger) == Decimal(6)
    assert ledger.lower_bound("acme", "all-time") is None
    (_, _, params), = history.reads  # fmt: skip
    assert params["start"] == datetime(1970, 1, 1, tzinfo=UTC).isoformat()
    assert datetime.fromisoformat(params["end"]) < RECENT  # what the topic surely holds is not read twice


async def test_a_seeded_spend_crosses_thresholds_through_the_feeds_path() -> None:
    history = InMemoryHistory()
    stored(history, "e-old", cost("c1", "60", OLD))
    _, _, seeder, crossed = setup(history)
    await seeder.seed_all()
    assert [c.threshold for c in crossed] == [0.5]


async def test_a_budget_within_the_topics_retention_is_not_read() -> None:
    history = InMemoryHistory()
    ledger, _, seeder, _ = setup(history)
    ledger.remove("acme", "all-time")
    ledger.put("acme", budget("today", period="daily"))
    await seeder.seed_all()
    assert history.reads == []


async def test_more_events_than_the_bound_count_the_newest_and_say_it_is_a_lower_bound() -> None:
    history = InMemoryHistory()
    for n in range(5):
        stored(history, f"e{n}", cost(f"c{n}", "1", OLD + timedelta(minutes=n)))
    ledger, _, seeder, _ = setup(history, max_events=3)
    await seeder.seed_all()
    assert spent(ledger) == Decimal(3)
    reason = ledger.lower_bound("acme", "all-time")
    assert reason is not None and "more than 3 cost events" in reason


async def test_a_warehouse_that_never_answers_in_time_leaves_a_lower_bound() -> None:
    history = InMemoryHistory()
    history.unavailable = True
    ledger, _, seeder, _ = setup(history, timeout_s=0.05)
    await seeder.seed_all()
    assert spent(ledger) == Decimal(0)
    assert "time limit" in (ledger.lower_bound("acme", "all-time") or "")


async def test_the_time_limit_bounds_the_whole_start_not_each_tenant() -> None:
    history = InMemoryHistory()
    history.unavailable = True
    ledger, _, seeder, _ = setup(history, timeout_s=0.2)
    for n in range(20):
        ledger.put(f"tenant-{n}", budget("all-time", period="total"))
    started = asyncio.get_running_loop().time()
    await seeder.seed_all()
    assert asyncio.get_running_loop().time() - started < 2.0  # not 21 x 0.2 s: one deadline for every tenant
    assert all(ledger.lower_bound(f"tenant-{n}", "all-time") for n in range(20))


class Refusing:
    async def read(self, tenant: str, table: str, params: Any, max_rows: int) -> HistoryRows:
        raise HistoryError("the warehouse refused to read cost_records: 403 forbidden")


async def test_a_refused_read_leaves_a_lower_bound() -> None:
    ledger, _, seeder, _ = setup(Refusing())
    await seeder.seed_all()
    assert "refused" in (ledger.lower_bound("acme", "all-time") or "")


async def test_a_budget_defined_later_is_seeded_alone() -> None:
    history = InMemoryHistory()
    stored(history, "e-old", cost("c1", "3", OLD))
    ledger, _, seeder, _ = setup(history)
    await seeder.seed_all()
    ledger.put("acme", budget("all-time-2", period="total", limit="100"))
    await seeder.seed("acme", "all-time-2")
    assert spent(ledger, "all-time-2") == Decimal(3)
    assert spent(ledger) == Decimal(3)  # the first budget saw the same event again: counted once


async def test_an_unreadable_row_is_skipped() -> None:
    history = InMemoryHistory()
    history.add("acme", TABLE, {"cost": "not a cost record"}, OLD, event_id="bad")
    stored(history, "e-old", cost("c1", "3", OLD))
    ledger, _, seeder, _ = setup(history)
    await seeder.seed_all()
    assert spent(ledger) == Decimal(3)
