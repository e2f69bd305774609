"""A review queue naming an evaluation dataset, on real components: the dataset's versions as the evaluation
service publishes them (examples, then the manifest), stored by the warehouse in chDB, read back by the
feedback service's production wiring through the warehouse's API with a `service` key."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from llmops_feedback.config import FeedbackSettings
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer

from tests.integration.feedback.conftest import SERVICE_KEY
from tests.integration.feedback.test_review_queues import _feedback, _keys_file, _rows, auth
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import new_tenant

pytestmark = pytest.mark.integration


def _version(tenant: str, version: int, calls: list[str | None]) -> list[CloudEvent[Any]]:
    """One dataset version's events in the evaluation service's order: every example, then the manifest."""
    digest = hashlib.sha256(f"golden {version}".encode()).hexdigest()
    same = {"dataset": "golden", "version": version, "digest": digest}
    examples = [
        DatasetExampleAdded(**same, example_id=f"ex-{n}", position=n, input=f"q {n}", source_call_id=call_id)
        for n, call_id in enumerate(calls)
    ]
    manifest = DatasetVersionCreated(name="golden", version=version, digest=digest, examples=len(calls),
                                     source="calls", created_at=datetime.now(UTC))  # fmt: skip
    return [CloudEvent.wrap(p, source="/tests/datasets", tenant_id=tenant, subject=f"golden:{version}")
            for p in (*examples, manifest)]  # fmt: skip


async def test_a_queue_of_a_datasets_source_calls(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str, warehouse_api: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    tenant = new_tenant()
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    consumer = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"wh-it-{uuid.uuid4().hex[:12]}",
                          batch_wait_ms=100),
        store,
        producer,
    )  # fmt: skip
    settings = FeedbackSettings(
        kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=_keys_file(tmp_path, tenant),
        warehouse_url=warehouse_api, service_key=SERVICE_KEY,
    )  # fmt: skip
    await consumer.start()
    try:
        await producer.publish_many([*_version(tenant, 1, ["c-1", "c-2"]), *_version(tenant, 2, ["c-3", None, "c-4"])])

        async def stored() -> bool:
            return len(await _rows(store, tenant, "dataset_examples")) == 5 and bool(
                await _rows(store, tenant, "dataset_versions")
            )

        await wait_until(stored, "the two dataset versions in the warehouse")
        async with _feedback(settings) as fb:
            found = {}
            for name, dataset in (("latest", "golden"), ("first", "golden@1")):
                body = {"name": name, "source": "dataset", "params": {"dataset": dataset}}
                created = await fb.post("/v1/review/queues", json=body, headers=auth("admin"))
                assert created.status_code == 201, created.text
                items = (await fb.get(f"/v1/review/queues/{name}/items", headers=auth("admin"))).json()["items"]
                found[name] = [(i["call_id"], i["reason"]) for i in items]
            missing = {"name": "missing", "source": "dataset", "params": {"dataset": "golden@3"}}
            refused = await fb.post("/v1/review/queues", json=missing, headers=auth("admin"))
    finally:
        await consumer.stop()
        await store.stop()
    assert found == {
        "latest": [("c-3", "dataset golden@2"), ("c-4", "dataset golden@2")],
        "first": [("c-1", "dataset golden@1"), ("c-2", "dataset golden@1")],
    }
    assert refused.status_code == 422 and "no version 3 of dataset 'golden'" in refused.text
