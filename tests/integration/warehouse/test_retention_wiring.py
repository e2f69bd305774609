"""Retention in the warehouse as it runs: a policy published on ``llmops.policies`` (real broker) is materialised,
the calls the consumer stores are stamped with it, the TTL deletes the expired one, and disabling the policy
re-stamps the tenant's stored rows back to the table's default (real chDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.migrations import apply_migrations

from tests.integration.warehouse.test_retention import count
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import make_event, new_tenant
from tests.unit.warehouse.retention_policies import retention_policy

pytestmark = pytest.mark.integration

KEY = "llmops_retention_reader_0000000000000001"
WAIT_S = 120.0


@pytest.fixture
async def warehouse(
    kafka_bootstrap: str, chdb_client: Any, chdb_url: str, scratch_database: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    tenant = new_tenant()
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(
        yaml.safe_dump({"keys": [{"id": "r", "tenant_id": tenant, "role": "reader", "sha256": hash_key(KEY)}]})
    )
    settings = WarehouseSettings(
        kafka_bootstrap_servers=kafka_bootstrap, clickhouse_url=chdb_url, database=scratch_database,
        consumer_group=f"warehouse-retention-{tenant}", api_keys_file=keys_file, ensure_topics=False,
        retention_restamp_interval_s=0.2,
    )  # fmt: skip
    apply_migrations(chdb_client, database=scratch_database)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse", timeout=30) as client,
    ):
        yield client, tenant


async def test_a_published_policy_sets_the_expiry_of_stored_calls_and_its_removal_restores_it(
    warehouse: tuple[httpx.AsyncClient, str], kafka_bootstrap: str, chdb_client: Any, scratch_database: str
) -> None:
    client, tenant = warehouse
    other = new_tenant()
    policy = retention_policy(tenant, "calls", 1, policy_id="calls-1d")
    producer = EventProducer(kafka_bootstrap, service="retention-test")
    await producer.start()
    try:
        await producer.publish(policy)

        async def applied(days: int) -> bool:
            response = await client.get("/v1/retention", headers={"Authorization": f"Bearer {KEY}"})
            return any(t["table"] == "calls" and t["days"] == days for t in response.json()["tables"])

        await wait_until(lambda: applied(1), "the policy in GET /v1/retention", WAIT_S)
        old, recent = datetime.now(UTC) - timedelta(days=3), datetime.now(UTC) - timedelta(minutes=1)
        await producer.publish_many(
            [
                make_event(tenant, started_at=old),
                make_event(tenant, started_at=recent),
                make_event(other, started_at=old),
            ]
        )

        async def stored() -> bool:
            # (the tenant's old call may already be gone: a background merge applies the TTL too)
            return count(chdb_client, scratch_database, "calls", other) == 1 and expiry_days(tenant)[-1:] == [1]

        def expiry_days(who: str) -> list[int]:
            sql = (
                f"SELECT dateDiff('day', started_at, expires_at) FROM {scratch_database}.calls"
                " WHERE tenant_id = {t:String} ORDER BY started_at"
            )
            return [int(r[0]) for r in chdb_client.query(sql, parameters={"t": who}).result_rows]

        await wait_until(stored, "the calls stored, the tenant's recent one stamped with 1 day", WAIT_S)

        async def ttl_merged() -> bool:
            chdb_client.command(f"OPTIMIZE TABLE {scratch_database}.calls FINAL")
            return count(chdb_client, scratch_database, "calls", tenant) == 1

        await wait_until(ttl_merged, "the tenant's expired call deleted by the TTL merge", WAIT_S)
        assert count(chdb_client, scratch_database, "calls", other) == 1  # 90 days: another tenant's old call stays

        disabled = policy.model_copy(update={"data": policy.data.model_copy(update={"version": 2, "enabled": False})})
        await producer.publish(disabled)

        async def restamped() -> bool:
            return expiry_days(tenant) == [90]

        await wait_until(restamped, "the tenant's stored call re-stamped to the default 90 days", WAIT_S)
    finally:
        await producer.stop()
