"""The erased-calls contract on the kit's WarehouseReader against the warehouse's real route over chDB
(``GET /v1/erasures/{request_id}/calls``), with a `service` key naming the tenant per request; the same suite
runs on the unit tests' fake and over the route's stub (tests/unit/kit/test_erased_calls.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.erasure.clickhouse import ClickHouseErasures
from llmops_warehouse.erasure.ledger import LedgerEntry

from tests.integration.feedback.conftest import SERVICE_KEY
from tests.unit.kit.erased_calls_contract import ErasedCallsContract, Seed

pytestmark = pytest.mark.integration


class TestWarehouseRoute(ErasedCallsContract):
    @pytest.fixture
    async def calls(self, warehouse_api: str) -> AsyncIterator[WarehouseReader]:
        reader = WarehouseReader(PlatformClient("warehouse", warehouse_api, SERVICE_KEY))
        await reader.start()
        yield reader
        await reader.stop()

    @pytest.fixture
    def seed(self, chdb_client: Any, warehouse_database: str) -> Seed:
        """Has the warehouse processed ``request_id``: its ledger entry and the calls it erased, as the eraser
        writes them (the route answers from these two tables)."""
        store = ClickHouseEventStore(chdb_client, warehouse_database)
        erasures = ClickHouseErasures(store.database, store.writing, store.read)

        def seed(tenant: str, request_id: str, call_ids: list[str]) -> None:
            now = datetime.now(UTC)
            erasures.record(LedgerEntry(tenant, request_id, "user_id", "0" * 64, now, str(uuid.uuid4()), {}, now, now))
            if call_ids:
                erasures.add_calls([(tenant, request_id, call_id) for call_id in call_ids])

        return seed
