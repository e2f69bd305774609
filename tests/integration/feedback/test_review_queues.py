"""Review queues and the export on real components: the feedback service's production wiring (Kafka, its two
compacted topics, the warehouse's API with a `service` key) and the warehouse consuming into chDB.

A queue is built from scores stored in the warehouse; two reviewers claim, collide (409) and review; every
change lands in the warehouse (``review_queues``, ``review_items``, and the reviews as ``feedback``); a new
service process rebuilds the queue from the compacted topics alone; the review's correction comes out of the
DPO export as a row that TRL's schema accepts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from fastapi import FastAPI
from llmops_feedback.bootstrap import create_app as feedback_app
from llmops_feedback.config import FeedbackSettings
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import EvaluationScored, EvaluatorRef
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.events import EventQuery

from tests.integration.feedback.conftest import SERVICE_KEY
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.warehouse.call_store_contract import make_event, new_tenant

pytestmark = pytest.mark.integration

KEYS = {"admin": "llmops_review_it_admin_key_000000000000", "ann": "llmops_review_it_ann_key_00000000000000",
        "bob": "llmops_review_it_bob_key_00000000000000"}  # fmt: skip
SCHEMA = json.loads(resources.files("llmops_feedback.export").joinpath("trl_rows.schema.json").read_text())


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def _keys_file(folder: Path, tenant: str) -> Path:
    roles = {"admin": "admin", "ann": "reviewer", "bob": "reviewer"}
    entries = [{"id": n, "tenant_id": tenant, "role": roles[n], "sha256": hash_key(k)} for n, k in KEYS.items()]
    path = folder / "keys.yaml"
    path.write_text(yaml.safe_dump({"keys": entries}))
    return path


def _score(tenant: str, call_id: str, score: float) -> CloudEvent[EvaluationScored]:
    data = EvaluationScored(
        evaluation_id=f"s-{call_id}", call_id=call_id, app="chat", metric="relevance", score=score,
        evaluator=EvaluatorRef(name="judge", version="1", kind="llm_judge", judge_model="tiny"),
        judged_at=datetime.now(UTC),
    )  # fmt: skip
    return CloudEvent.wrap(data, source="/tests/review", tenant_id=tenant, subject=call_id)


async def _rows(store: ConcurrentEventStore, tenant: str, table: str) -> list[Any]:
    return (await store.read_events(EventQuery(tenant_id=tenant, table=table, limit=1000))).items


@asynccontextmanager
async def _feedback(settings: FeedbackSettings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = feedback_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback") as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready, "the feedback service ready (review topics read)")
        yield client


async def test_a_review_queue_end_to_end(
    kafka_bootstrap: str, producer: EventProducer, chdb_client: Any, warehouse_database: str, warehouse_api: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    tenant = new_tenant()
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    group = f"warehouse-it-{uuid.uuid4().hex[:12]}"
    consumer = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group, batch_wait_ms=100),
        store,
        producer,
    )
    settings = FeedbackSettings(
        kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=_keys_file(tmp_path, tenant),
        warehouse_url=warehouse_api, service_key=SERVICE_KEY,
    )  # fmt: skip
    calls = [make_event(tenant, call_id=f"call-{n}", output=f"answer {n}", content="Where is it?") for n in range(3)]
    await consumer.start()
    try:
        await producer.publish_many([*calls, _score(tenant, "call-0", 0.1), _score(tenant, "call-1", 0.9),
                                     _score(tenant, "call-2", 0.2)])  # fmt: skip

        async def history_stored() -> bool:
            stored = await _rows(store, tenant, "evaluation_scores")
            return len(stored) == 3 and all([await store.get_call(tenant, c.data.call_id) for c in calls])

        await wait_until(history_stored, "the calls and scores in the warehouse")

        async with _feedback(settings) as fb:
            body = {"name": "low", "source": "low_score", "params": {"evaluator": "judge", "below": 0.5},
                    "labels": ["fine", "off-topic"], "reviews_per_item": 2}  # fmt: skip
            created = await fb.post("/v1/review/queues", json=body, headers=auth("admin"))
            assert created.status_code == 201, created.text
            assert created.json()["items"] == 2
            item = (await fb.post("/v1/review/queues/low/next", headers=auth("ann"))).json()["item_id"]
            held = await fb.post("/v1/review/queues/low/claim", json={"item_id": item}, headers=auth("bob"))
            assert held.status_code == 409 and held.json()["reason"] == "locked"
            review = {"item_id": item, "verdict": "reject", "label": "off-topic", "correction": "It is in Lyon."}
            assert (await fb.post("/v1/review/queues/low/reviews", json=review, headers=auth("ann"))).status_code == 200
            twice = await fb.post("/v1/review/queues/low/claim", json={"item_id": item}, headers=auth("ann"))
            assert twice.status_code == 409 and twice.json()["reason"] == "already_reviewed"
            assert (await fb.post("/v1/review/queues/low/next", headers=auth("bob"))).json()["item_id"] == item
            second = {"item_id": item, "verdict": "reject", "label": "fine"}
            assert (await fb.post("/v1/review/queues/low/reviews", json=second, headers=auth("bob"))).status_code == 200
            before = (await fb.get("/v1/review/queues/low", headers=auth("admin"))).json()

        async def history_of_changes() -> bool:
            items = await _rows(store, tenant, "review_items")
            feedback = await _rows(store, tenant, "feedback")
            queues = await _rows(store, tenant, "review_queues")
            # 2 enqueued + ann's claim and review + bob's claim and review; ann's 3 answers and bob's 2
            return len(items) == 6 and len(feedback) == 5 and len(queues) == 1

        await wait_until(history_of_changes, "every change of the queue in the warehouse")
        actions = sorted(r.data["action"] for r in await _rows(store, tenant, "review_items"))
        assert actions == ["claimed", "claimed", "enqueued", "enqueued", "reviewed", "reviewed"]

        async with _feedback(settings) as fb:  # a new process: the queue comes back from the compacted topics
            after = (await fb.get("/v1/review/queues/low", headers=auth("admin"))).json()
            assert after == before
            assert after["progress"]["done"] == 1 and after["progress"]["open"] == 1
            exported = await fb.get("/v1/exports/dpo", params={"start": "2020-01-01T00:00:00Z"}, headers=auth("admin"))
    finally:
        await consumer.stop()
        await store.stop()
    assert exported.status_code == 200, exported.text
    [row] = [json.loads(line) for line in exported.text.splitlines()]
    jsonschema.validate(row, SCHEMA)
    assert row["chosen"] == [{"role": "assistant", "content": "It is in Lyon."}]
    assert row["rejected"] == [{"role": "assistant", "content": f"answer {item.split('-')[1]}"}]
    assert row["lineage"]["call_ids"] == [item] and row["lineage"]["reviewer"] == "ann"
    assert datetime.fromisoformat(after["queue"]["updated_at"]) > datetime.now(UTC) - timedelta(hours=1)
