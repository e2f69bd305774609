"""A budget restarted after the cost topic dropped part of its period counts that part from the warehouse.

The session broker keeps everything, so "dropped" is a cost event only in the warehouse (chDB, read through its
real query API with a service key); one event is in both (the overlap the seed reads on purpose) and counts once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from llmops_kit.budget_feed import BudgetFeed
from llmops_kit.budgets import BudgetLedger
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetConfigured, BudgetScope
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import CostRecorded
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.events import StoredEvent

from tests.integration.feedback.conftest import SERVICE_KEY, chdb_client, warehouse_api, warehouse_database

__all__ = ["chdb_client", "warehouse_api", "warehouse_database"]

pytestmark = pytest.mark.integration


def _cost(tenant: str, call_id: str, amount: str, at: datetime) -> CloudEvent[CostRecorded]:
    data = {**example_data(CostRecorded), "call_id": call_id, "cost": amount, "app": "chat",
            "call_started_at": at.isoformat(), "recorded_at": at.isoformat()}  # fmt: skip
    event = CloudEvent.wrap(CostRecorded.model_validate(data), source="/services/cost", tenant_id=tenant)
    return event.model_copy(update={"time": at})


async def test_a_total_budget_counts_spend_older_than_the_topic_after_a_restart(
    kafka_bootstrap: str, warehouse_api: str, chdb_client: object, warehouse_database: str
) -> None:
    tenant, now = f"t-{uuid.uuid4().hex[:12]}", datetime.now(UTC)
    old = _cost(tenant, "old", "3", now - timedelta(days=40))  # only in the warehouse: the topic dropped it
    edge = _cost(tenant, "edge", "2", now - timedelta(days=14) + timedelta(hours=2))  # in both
    new = _cost(tenant, "new", "1", now)  # only on the topic: not stored yet
    store = ClickHouseEventStore(chdb_client, warehouse_database)
    store.insert_events([StoredEvent.of("cost_records", e, record_key=tenant) for e in (old, edge)])
    budget = BudgetConfigured(
        budget_id="all-time", name="all-time", scope=BudgetScope(kind="tenant"), period="total", limit=Decimal(100),
        version=1, updated_by="it", updated_at=now,
    )  # fmt: skip
    producer = EventProducer(kafka_bootstrap, service="budget-seed-it")
    await producer.start()
    ledger = BudgetLedger()
    history = WarehouseReader(PlatformClient("warehouse", warehouse_api, SERVICE_KEY))
    feed = BudgetFeed(kafka_bootstrap, ledger, client_id="budget-seed-it", history=history)
    try:
        await producer.publish_many([CloudEvent.wrap(budget, source="/tests", tenant_id=tenant), edge, new])
        await feed.start()
        assert await feed.wait_ready(90)
        found = ledger.spend(tenant, "all-time")
        assert found is not None and found[1] == Decimal(6)  # 3 + 2 (once) + 1
        assert ledger.lower_bound(tenant, "all-time") is None
    finally:
        await feed.stop()
        await producer.stop()
