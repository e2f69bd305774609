"""The history contract on the kit's WarehouseReader against the warehouse's real API over chDB, with a
`service` key naming the tenant per request (the same suite runs on the unit tests' fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import FeedbackReceived
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.events import StoredEvent

from tests.integration.feedback.conftest import SERVICE_KEY
from tests.unit.feedback.history_contract import HistoryContract, Seed

pytestmark = pytest.mark.integration


class TestWarehouseReader(HistoryContract):
    @pytest.fixture
    async def history(self, warehouse_api: str) -> AsyncIterator[WarehouseReader]:
        reader = WarehouseReader(PlatformClient("warehouse", warehouse_api, SERVICE_KEY))
        await reader.start()
        yield reader
        await reader.stop()

    @pytest.fixture
    def seed(self, chdb_client: Any, warehouse_database: str) -> Seed:
        store = ClickHouseEventStore(chdb_client, warehouse_database)

        async def insert(events: list[CloudEvent[FeedbackReceived]]) -> None:
            store.insert_events([StoredEvent.of("feedback", event, record_key=event.tenant_id) for event in events])

        return insert
