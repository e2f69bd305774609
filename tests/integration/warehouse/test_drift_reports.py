"""Drift reports in the warehouse: v1 and v2 events on llmops.drift.reports are stored as v2, queryable by scope.

The real broker and the session's chDB engine, migrated through 0017 (prompt name and version columns).
"""

from __future__ import annotations

from typing import Any

import pytest
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import DriftReported as DriftReportedV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import DriftReported
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.events import EventQuery

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.integration.warehouse.test_warehouse_event_topics import rows, settings
from tests.unit.warehouse.call_store_contract import new_tenant

pytestmark = pytest.mark.integration


async def test_v1_and_v2_reports_are_stored_as_v2_and_filtered_by_prompt_version(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    old = CloudEvent.wrap(example(DriftReportedV1), source="//llmops/drift-detection", tenant_id=tenant)
    new = CloudEvent.wrap(example(DriftReported), source="//llmops/drift-detection", tenant_id=tenant)
    consumer = build_consumer(settings(kafka_bootstrap), store, producer)
    await consumer.start()
    try:
        await producer.publish_many([old, new, new])  # the v2 report twice: stored once

        async def stored() -> bool:
            return len(await rows(store, tenant, "drift_reports")) == 2

        await wait_until(stored, "both drift reports")
    finally:
        await consumer.stop()

    by_id = {row.event_id: row for row in await rows(store, tenant, "drift_reports")}
    assert {row.type for row in by_id.values()} == {DriftReported.event_type}
    assert by_id[str(old.id)].data == DriftReported.from_v1(old.data).model_dump(mode="json")
    assert by_id[str(new.id)].data == new.data.model_dump(mode="json")
    query = EventQuery(tenant_id=tenant, table="drift_reports", filters={"prompt_version": 3, "app": "support-bot"})
    assert [row.event_id for row in (await store.read_events(query)).items] == [str(new.id)]
    await store.stop()
