"""The budget feed on the session broker: budgets first, then the cost events of their periods, each once.

A budget defined after the feed caught up rewinds the cost reader to its period's start, so it counts the costs
that were already on the topic; the budgets that had counted them do not count them again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from llmops_kit.budget_feed import BudgetFeed
from llmops_kit.budgets import BudgetLedger
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetConfigured, BudgetScope
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import CostRecorded

from tests.integration.warehouse.test_warehouse_consumer import wait_until

pytestmark = pytest.mark.integration


def _budget(budget_id: str, kind: str = "tenant", value: str | None = None) -> BudgetConfigured:
    return BudgetConfigured(
        budget_id=budget_id, name=budget_id, scope=BudgetScope(kind=kind, value=value), period="daily",  # type: ignore[arg-type]
        limit=Decimal(100), version=1, updated_by="it", updated_at=datetime.now(UTC),
    )  # fmt: skip


def _cost(tenant: str, i: int, amount: str) -> CloudEvent[CostRecorded]:
    data = {**example_data(CostRecorded), "call_id": f"call-{i}", "cost": amount, "app": "chat",
            "call_started_at": datetime.now(UTC).isoformat()}  # fmt: skip
    return CloudEvent.wrap(CostRecorded.model_validate(data), source="/services/cost", tenant_id=tenant)


async def test_budgets_count_the_costs_of_their_period_once(kafka_bootstrap: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    producer = EventProducer(kafka_bootstrap, service="budget-feed-it")
    await producer.start()
    ledger = BudgetLedger()
    feed = BudgetFeed(kafka_bootstrap, ledger, client_id="budget-feed-it")
    try:
        await producer.publish_many([CloudEvent.wrap(_budget("all"), source="/tests", tenant_id=tenant)])
        costs = [_cost(tenant, i, "0.25") for i in range(8)]
        await producer.publish_many([*costs, costs[0]])  # a cost event twice: counted once
        await feed.start()
        assert await feed.wait_ready(60)
        assert ledger.spend(tenant, "all")[1] == Decimal(2)  # type: ignore[index]

        await producer.publish_many(
            [CloudEvent.wrap(_budget("chat", "app", "chat"), source="/tests", tenant_id=tenant)]
        )

        def spent(budget_id: str) -> Decimal:
            found = ledger.spend(tenant, budget_id)
            return found[1] if found is not None else Decimal(-1)

        async def chat_counted() -> bool:
            return spent("chat") == Decimal(2)

        await wait_until(chat_counted, "the new budget counting the costs already on the topic", timeout_s=60)
        await producer.publish_many([_cost(tenant, 100, "1")])

        async def live() -> bool:
            return spent("all") == Decimal(3) and spent("chat") == Decimal(3)

        await wait_until(live, "a new cost counted by both budgets", timeout_s=60)
        assert spent("all") == Decimal(3)  # the rewind did not count the first costs twice for "all"
    finally:
        await feed.stop()
        await producer.stop()
