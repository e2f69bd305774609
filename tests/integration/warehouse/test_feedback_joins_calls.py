"""The feedback service end to end on a real broker and the session's chDB engine (here for the warehouse's
fixtures: one chDB engine per process).

Feedback given before its call exists is accepted, stored, and joined to the call once that arrives (by tenant
and call id, through the warehouse's API); a retried item is stored once; another tenant's reader sees neither.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_feedback.bootstrap import create_app as feedback_app
from llmops_feedback.config import FeedbackSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app
from llmops_warehouse.events import EventQuery

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import make_event, new_tenant

pytestmark = pytest.mark.integration

REVIEWER = "llmops_feedback_it_reviewer_key_0000000000"
READER = "llmops_feedback_it_reader_key_00000000000"
OTHER_READER = "llmops_feedback_it_other_reader_key_000000"


def _keys_file(folder: Path, tenant: str) -> Path:
    path = folder / "keys.yaml"
    entry = {"id": "reviewer", "tenant_id": tenant, "role": "reviewer", "sha256": hash_key(REVIEWER)}
    path.write_text(yaml.safe_dump({"keys": [entry]}))
    return path


async def _feedback_rows(store: ConcurrentEventStore, tenant: str) -> list[Any]:
    return (await store.read_events(EventQuery(tenant_id=tenant, table="feedback", limit=1000))).items


def _item(feedback_id: str, **fields: Any) -> dict[str, Any]:
    given = datetime.now(UTC).isoformat()
    return {"feedback_id": feedback_id, "call_id": "call-late", "given_at": given, **fields}


async def test_feedback_before_its_call_is_stored_joined_and_not_duplicated(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str, tmp_path: Path
) -> None:
    tenant = new_tenant()
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    group = f"warehouse-it-{uuid.uuid4().hex[:12]}"
    consumer = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group, batch_wait_ms=100),
        store,
        producer,
    )
    feedback = feedback_app(
        FeedbackSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=_keys_file(tmp_path, tenant))
    )
    readers = ApiKeyStore(
        [
            ApiKeyRecord(id="reader", tenant_id=tenant, role="reader", sha256=hash_key(READER)),
            ApiKeyRecord(id="other", tenant_id=new_tenant(), role="reader", sha256=hash_key(OTHER_READER)),
        ]
    )
    reads = ClickHouseEventStore(chdb_client, warehouse_database)  # the API wraps its store itself
    warehouse = warehouse_app(WarehouseSettings(api_keys_file=None), ports=WarehousePorts(reads, readers))
    reviewer = {"Authorization": f"Bearer {REVIEWER}"}
    await consumer.start()
    try:
        async with (
            feedback.router.lifespan_context(feedback),
            warehouse.router.lifespan_context(warehouse),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=feedback), base_url="http://feedback") as fb,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=warehouse), base_url="http://warehouse") as wh,
        ):
            rating = _item("fb-1", kind="rating", value=2, comment="vague")
            first = await fb.post("/v1/feedback", json=rating, headers=reviewer)
            assert first.status_code == 202, first.text
            await wait_until(lambda: _has(store, tenant, 1), "the feedback, before its call")

            call = make_event(tenant, call_id="call-late")
            await producer.publish_many([call])
            retry = await fb.post("/v1/feedback", json=rating, headers=reviewer)
            assert retry.json()["event_id"] == first.json()["event_id"]
            # Same tenant, same partition, after the retry: once it is stored, the retry has been consumed too.
            marker = await fb.post("/v1/feedback", json=_item("fb-2", kind="label", label="vague"), headers=reviewer)
            assert marker.status_code == 202, marker.text
            await wait_until(lambda: _has(store, tenant, 2, "fb-2"), "the marker after the retry")
            await wait_until(lambda: _call_stored(store, tenant), "the call")

            reader = {"Authorization": f"Bearer {READER}"}
            page = await wh.get("/v1/events/feedback", params={"call_id": "call-late"}, headers=reader)
            stored_call = await wh.get("/v1/calls/call-late", headers=reader)
            other = await wh.get(
                "/v1/events/feedback",
                params={"call_id": "call-late"},
                headers={"Authorization": f"Bearer {OTHER_READER}"},
            )
    finally:
        await consumer.stop()
        await store.stop()
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert sorted(i["data"]["feedback_id"] for i in items) == ["fb-1", "fb-2"]  # the retry stored once
    assert {i["type"] for i in items} == {"llmops.feedback.received.v2"}
    assert stored_call.status_code == 200
    assert stored_call.json()["call_id"] == "call-late"
    assert other.json()["items"] == []


async def _has(store: ConcurrentEventStore, tenant: str, count: int, feedback_id: str = "fb-1") -> bool:
    rows = await _feedback_rows(store, tenant)
    return len(rows) >= count and any(r.data["feedback_id"] == feedback_id for r in rows)


async def _call_stored(store: ConcurrentEventStore, tenant: str) -> bool:
    return await store.get_call(tenant, "call-late") is not None
