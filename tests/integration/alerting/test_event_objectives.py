"""The event objectives' counts on the kit's WarehouseReader against the warehouse's real API over chDB, with a
`service` key naming the tenant per request (the same suite runs on the unit tests' fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.events import StoredEvent

from tests.integration.feedback.conftest import SERVICE_KEY
from tests.unit.alerting.sli_contract import EventSliContract

pytestmark = pytest.mark.integration
TABLES = {
    "llmops.evaluation.scored.v2": "evaluation_scores",
    "llmops.feedback.received.v2": "feedback",
    "llmops.cost.recorded.v2": "cost_records",
}


class TestWarehouseReader(EventSliContract):
    @pytest.fixture
    async def history(self, warehouse_api: str) -> AsyncIterator[WarehouseReader]:
        reader = WarehouseReader(PlatformClient("warehouse", warehouse_api, SERVICE_KEY))
        await reader.start()
        yield reader
        await reader.stop()

    @pytest.fixture
    def seed(self, chdb_client: Any, warehouse_database: str) -> Any:
        store = ClickHouseEventStore(chdb_client, warehouse_database)

        async def insert(events: list[CloudEvent[Any]]) -> None:
            calls = [e for e in events if isinstance(e.data, CallRecorded)]
            others = [e for e in events if not isinstance(e.data, CallRecorded)]
            store.insert_calls(calls)
            store.insert_events([StoredEvent.of(TABLES[e.type], e, record_key=e.tenant_id) for e in others])

        return insert
