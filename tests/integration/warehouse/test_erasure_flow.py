"""Erasure end to end on the session's broker and chDB: an admin asks the governance service, the warehouse
erases and publishes its receipt, the governance service reads it back through the warehouse's query API, and a
service key pages through the erased call ids (404 for a request the warehouse never processed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from llmops_governance_audit.bootstrap import GovernanceAuditPorts
from llmops_governance_audit.bootstrap import create_app as governance_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_kit.auth import TENANT_HEADER, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app
from llmops_warehouse.models import CallQuery

from tests.integration.warehouse.test_erasure import _eraser
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = pytest.mark.integration

ADMIN = "llmops_erasure_flow_admin_key_000000000000"
SERVICE = "llmops_erasure_flow_service_key_0000000000"


def _keys(tenant: str) -> ApiKeyStore:
    return ApiKeyStore(
        [
            ApiKeyRecord(id="flow-admin", tenant_id=tenant, role="admin", sha256=hash_key(ADMIN)),
            ApiKeyRecord(id="flow-svc", tenant_id="*", role="service", sha256=hash_key(SERVICE)),
        ]
    )


@pytest.fixture
async def warehouse_http(chdb_client: Any, warehouse_database: str) -> AsyncIterator[tuple[httpx.ASGITransport, str]]:
    tenant = new_tenant()
    app = warehouse_app(
        WarehouseSettings(), ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), _keys(tenant))
    )
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app), tenant


async def test_an_admins_request_is_erased_by_the_warehouse_and_its_receipt_read_back(
    kafka_bootstrap: str,
    producer: EventProducer,
    chdb_client: Any,
    warehouse_database: str,
    warehouse_http: tuple[httpx.ASGITransport, str],
) -> None:
    transport, tenant = warehouse_http
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    settings = WarehouseSettings(
        kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"flow-{uuid.uuid4().hex[:8]}", batch_wait_ms=100
    )
    eraser = _eraser(store, chdb_client, warehouse_database, producer)
    await eraser.load()
    consumer = build_consumer(settings, store, producer, eraser=eraser)
    reader = WarehouseReader(PlatformClient("warehouse", "http://warehouse", SERVICE, transport=transport))
    governance = governance_app(
        GovernanceAuditSettings(), ports=GovernanceAuditPorts(producer, _keys(tenant), warehouse=reader)
    )
    await consumer.start()
    await reader.start()
    try:
        await producer.publish_many(
            [make_event(tenant, call_id=f"u-{i}", user_id="it-user", started_at=BASE) for i in range(2)]
        )

        async def stored() -> bool:
            return len((await store.list_calls(CallQuery(tenant_id=tenant))).items) == 2

        await wait_until(stored, "the calls stored")
        admin = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=governance), base_url="http://g") as client:
            body = {"subject_type": "user_id", "subject_value": "it-user", "reason": "integration test"}
            accepted = await client.post("/v1/erasures", headers=admin, json=body)
            assert accepted.status_code == 202, accepted.text
            request_id = accepted.json()["request_id"]

            async def warehouse_answered() -> bool:
                answer = await client.get(f"/v1/erasures/{request_id}", headers=admin)
                return answer.status_code == 200 and "warehouse" not in answer.json()["waiting_for"]

            await wait_until(warehouse_answered, "the warehouse's receipt", timeout_s=60)
            status = (await client.get(f"/v1/erasures/{request_id}", headers=admin)).json()
    finally:
        await consumer.stop()

    (receipt,) = [r for r in status["receipts"] if r["service"] == "warehouse"]
    assert receipt["status"] == "completed" and receipt["counts"]["calls"] == 2 and receipt["rows_affected"] == 2
    service = {"Authorization": f"Bearer {SERVICE}", TENANT_HEADER: tenant}
    async with httpx.AsyncClient(transport=transport, base_url="http://warehouse") as warehouse:
        first = (await warehouse.get(f"/v1/erasures/{request_id}/calls?limit=1", headers=service)).json()
        rest = await warehouse.get(f"/v1/erasures/{request_id}/calls?cursor={first['next_cursor']}", headers=service)
        unknown = await warehouse.get("/v1/erasures/erasure-never/calls", headers=service)
    assert first["call_ids"] == ["u-0"] and rest.json() == {
        "request_id": request_id,
        "call_ids": ["u-1"],
        "next_cursor": None,
    }
    assert unknown.status_code == 404
    await reader.stop()
    await store.stop()
