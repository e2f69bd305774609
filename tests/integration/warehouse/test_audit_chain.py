"""The tamper-evident audit trail end to end on the session's broker and chDB engine.

Services publish plain audit entries (the kit's ``AuditTrail``); the governance-audit service's chain writer
chains them per tenant and signs digests; the warehouse stores the chain; ``llmops audit verify``'s reader gets it
back through the warehouse's read API and recomputes it. A restarted writer resumes its chains where they stood
(no entry chained twice or skipped), and a row deleted in ClickHouse is found at its position.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from llmops_cli.audit_cmd import read_chain
from llmops_governance_audit.chain.settings import ChainSettings
from llmops_governance_audit.chain.wiring import ChainRuntime, chain_runtime
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.audit_digests import DigestChecker, DigestSigner, generate_private_key
from llmops_kit.audit_verify import ChainReport, verify_chain
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_kit.settings import KafkaSecurity
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.events import EventQuery
from pydantic import SecretStr

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import new_tenant

pytestmark = pytest.mark.integration

SERVICE_KEY = "llmops_audit_chain_it_service_key_000000000"
PRIVATE_KEY = generate_private_key()
CHECKER = DigestChecker([DigestSigner.from_text(PRIVATE_KEY).public_key])


@asynccontextmanager
async def chain_writer(kafka_bootstrap: str, producer: EventProducer, group: str) -> AsyncIterator[ChainRuntime]:
    """The governance-audit service's chain components, started in its order and stopped in reverse."""
    settings = ChainSettings(signing_key=SecretStr(PRIVATE_KEY), digest_interval_s=0.5, chain_group=group)
    runtime = chain_runtime(kafka_bootstrap, KafkaSecurity(), producer, source="/services/governance-audit",
                            service="governance-audit", settings=settings)  # fmt: skip
    for component in runtime.components:
        await component.start()
    try:
        yield runtime
    finally:
        for component in reversed(runtime.components):
            await component.stop()


@asynccontextmanager
async def warehouse(
    kafka_bootstrap: str, store: ConcurrentEventStore, producer: EventProducer, reads: ClickHouseEventStore
) -> AsyncIterator[Any]:
    """The warehouse's consumer into chDB, and a reader of its HTTP read API with a service key."""
    group = f"warehouse-it-{uuid.uuid4().hex[:12]}"
    consumer = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group, batch_wait_ms=100),
        store, producer,
    )  # fmt: skip
    keys = ApiKeyStore([ApiKeyRecord(id="svc", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(SERVICE_KEY))])
    app = create_app(WarehouseSettings(api_keys_file=None), ports=WarehousePorts(reads, keys))
    transport = httpx.ASGITransport(app=app)
    await consumer.start()
    try:
        async with app.router.lifespan_context(app):
            yield WarehouseReader(PlatformClient("warehouse", "http://warehouse", SERVICE_KEY, transport=transport))
    finally:
        await consumer.stop()


async def publish(producer: EventProducer, tenant: str, count: int, first: int = 0) -> None:
    trail = AuditTrail(producer, source="/services/it")
    for n in range(first, first + count):
        await trail.publish_with(tenant, Actor(key_id=f"key-{n % 3}", request_id=f"req-{n}"), action="prompt.publish",
                                 resource=("prompt", f"p-{n}"), details={"version": n}, before={"v": n})  # fmt: skip


async def verified(reader: WarehouseReader, tenant: str, entries: int) -> ChainReport:
    """The report once the warehouse holds ``entries`` chained entries and a digest signing the last."""
    report = ChainReport(tenant)

    async def complete() -> bool:
        nonlocal report
        report = verify_chain(tenant, *await read_chain(reader, tenant), CHECKER)
        return report.entries >= entries and report.signed_through >= entries - 1

    await wait_until(complete, f"{entries} chained and signed entries of {tenant}", timeout_s=120)
    return report


@pytest.fixture
async def store(chdb_client: Any, warehouse_database: str) -> AsyncIterator[ConcurrentEventStore]:
    concurrent = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    yield concurrent
    await concurrent.stop()


@pytest.fixture
def reads(chdb_client: Any, warehouse_database: str) -> ClickHouseEventStore:
    """The store the warehouse's read API answers from (the app runs it on its own worker threads)."""
    return ClickHouseEventStore(chdb_client, warehouse_database)


async def test_chained_signed_stored_and_verified_across_a_writer_restart(
    kafka_bootstrap: str, producer: EventProducer, store: ConcurrentEventStore, reads: ClickHouseEventStore
) -> None:
    acme, globex, group = new_tenant(), new_tenant(), f"governance-it-{uuid.uuid4().hex[:12]}"
    async with warehouse(kafka_bootstrap, store, producer, reads) as reader:
        async with chain_writer(kafka_bootstrap, producer, group):
            await publish(producer, acme, 60)
            await publish(producer, globex, 5)
            first = await verified(reader, acme, 60)
        assert first.intact and first.entries == 60, first.findings
        await publish(producer, acme, 40, first=60)  # written while no writer runs
        async with chain_writer(kafka_bootstrap, producer, group):
            report = await verified(reader, acme, 100)
        assert report.intact, report.findings
        assert report.entries == 100, "the restarted writer neither re-chained nor skipped an entry"
        assert (await verified(reader, globex, 5)).intact


async def test_a_row_deleted_in_clickhouse_is_found_at_its_position(
    kafka_bootstrap: str, producer: EventProducer, store: ConcurrentEventStore, reads: ClickHouseEventStore,
    chdb_client: Any, warehouse_database: str,
) -> None:  # fmt: skip
    tenant = new_tenant()
    async with warehouse(kafka_bootstrap, store, producer, reads) as reader:
        async with chain_writer(kafka_bootstrap, producer, f"governance-it-{uuid.uuid4().hex[:12]}"):
            await publish(producer, tenant, 30)
            assert (await verified(reader, tenant, 30)).intact
        chdb_client.command(
            f"DELETE FROM {warehouse_database}.audit_chain WHERE tenant_id = '{tenant}' "
            "AND JSONExtractInt(payload, 'sequence') = 17"
        )
        stored = (await store.read_events(EventQuery(tenant_id=tenant, table="audit_chain", limit=100))).items
        assert len(stored) == 29
        report = verify_chain(tenant, *await read_chain(reader, tenant), CHECKER)
    assert [(f.kind, f.position) for f in report.findings] == [("missing", 17)]
