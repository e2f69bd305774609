"""Erasure of a data subject from the feedback and evaluation services' compacted state, on a real broker.

Both services run their production wiring (materialisers, the erasure consumer, the producer). A review item and
two dataset examples hold a subject: one made from the subject's call, one naming the subject's e-mail address.
The request erases the second; the warehouse's receipt (published here as the warehouse would, with its route
listing the erased calls served by a stub: the route is built on another branch at the same time) erases those
made from the call. Each service publishes its receipt; after a restart, which re-reads the compacted topics
from the start, the records stay gone from the APIs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI, Header, HTTPException
from llmops_evaluation.bootstrap import create_app as evaluation_app
from llmops_evaluation.config import EvaluationSettings
from llmops_feedback.bootstrap import create_app as feedback_app
from llmops_feedback.config import FeedbackSettings
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import ReviewItemUpdated, ReviewQueueConfigured
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated
from llmops_schemas.v2 import ErasureProcessed, ErasureRequested

from tests.fixtures.gateway import ServerThread
from tests.integration.warehouse.conftest import producer
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, wait_until
from tests.unit.warehouse.call_store_contract import new_tenant

__all__ = ["producer"]

pytestmark = pytest.mark.integration

ADMIN = "llmops_erasure_it_admin_key_0000000000000"
SERVICE_KEY = "llmops_erasure_it_service_key_00000000000"
NOW = datetime.now(UTC)
DIGEST = "e" * 64
EMAIL = "ann.subject@example.com"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def _stub_warehouse(erased: dict[tuple[str, str], list[str]]) -> FastAPI:
    """The warehouse's ``GET /v1/erasures/{request_id}/calls`` as agreed (404 until processed)."""
    app = FastAPI()

    @app.get("/v1/erasures/{request_id}/calls")
    def calls(request_id: str, x_llmops_tenant: str = Header(), authorization: str = Header()) -> dict[str, Any]:
        if authorization != f"Bearer {SERVICE_KEY}":
            raise HTTPException(401)
        found = erased.get((x_llmops_tenant, request_id))
        if found is None:
            raise HTTPException(404, f"erasure {request_id} is not processed")
        return {"request_id": request_id, "call_ids": found, "next_cursor": None}

    return app


@pytest.fixture
def erased() -> dict[tuple[str, str], list[str]]:
    return {}


@pytest.fixture
def warehouse(erased: dict[tuple[str, str], list[str]]) -> Iterator[str]:
    with ServerThread(_stub_warehouse(erased)) as server:
        yield server.url


def _state(tenant: str) -> list[CloudEvent[Any]]:
    queue = ReviewQueueConfigured(name="low", source="sample", item_count=2, updated_at=NOW)
    items = [ReviewItemUpdated(queue="low", item_id=c, call_id=c, action="enqueued", status="open", revision=0,
                               updated_at=NOW) for c in ("call-erased", "call-kept")]  # fmt: skip
    texts = [{"input": "Where is my parcel?", "source_call_id": "call-erased"}, {"input": f"Please answer {EMAIL}"},
             {"input": "Refunds?"}]  # fmt: skip
    examples = [
        DatasetExampleAdded(dataset="faq", version=1, digest=DIGEST, example_id=f"e{i}", position=i, **fields)
        for i, fields in enumerate(texts)
    ]
    manifest = DatasetVersionCreated(name="faq", version=1, digest=DIGEST, examples=3, source="upload", created_at=NOW)
    payloads = [queue, *items, *examples, manifest]
    return [CloudEvent.wrap(p, source="/tests/erasure", tenant_id=tenant) for p in payloads]


def _request(tenant: str, request_id: str) -> CloudEvent[ErasureRequested]:
    data = ErasureRequested(request_id=request_id, subject_type="email", subject_value=EMAIL, requested_by="dpo",
                            reason="GDPR art. 17", requested_at=NOW)  # fmt: skip
    return CloudEvent.wrap(data, source="/services/governance-audit", tenant_id=tenant)


def _warehouse_receipt(tenant: str, request_id: str) -> CloudEvent[ErasureProcessed]:
    data = ErasureProcessed(request_id=request_id, service="warehouse", subject_type="email", status="completed",
                            counts={"calls": 1}, rows_affected=1, completed_at=NOW)  # fmt: skip
    return CloudEvent.wrap(data, source="/services/warehouse", tenant_id=tenant)


async def _values(bootstrap: str, topic: str, tenant: str) -> list[tuple[str, bytes | None]]:
    """Every record of ``tenant`` on ``topic`` so far, as (key, value), in offset order per partition."""
    ends = await _end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        found: list[tuple[str, bytes | None]] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [(r.key.decode(), r.value) for r in records if r.key and r.key.decode().startswith(tenant)]
        return found
    finally:
        await consumer.stop()


def _keys_file(folder: Path, tenant: str) -> Path:
    path = folder / "keys.yaml"
    entry = {"id": "admin", "tenant_id": tenant, "role": "admin", "sha256": hash_key(ADMIN)}
    path.write_text(yaml.safe_dump({"keys": [entry]}))
    return path


@asynccontextmanager
async def _serving(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}") as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready, f"the {name} service ready")
        yield client


@asynccontextmanager
async def _services(bootstrap: str, folder: Path, tenant: str, warehouse: str) -> AsyncIterator[tuple[Any, Any]]:
    shared = {"kafka_bootstrap_servers": bootstrap, "api_keys_file": _keys_file(folder, tenant),
              "warehouse_url": warehouse, "service_key": SERVICE_KEY}  # fmt: skip
    group = f"erasure-it-{tenant}"
    async with AsyncExitStack() as stack:
        fb = await stack.enter_async_context(
            _serving(feedback_app(FeedbackSettings(**shared, erasure_group=f"{group}-fb")), "feedback")
        )
        ev = await stack.enter_async_context(
            _serving(evaluation_app(EvaluationSettings(**shared, erasure_group=f"{group}-ev")), "evaluation")
        )
        yield fb, ev


async def _held(fb: httpx.AsyncClient, ev: httpx.AsyncClient) -> tuple[list[str], list[str]]:
    items = (await fb.get("/v1/review/queues/low/items", headers=AUTH)).json()["items"]
    examples = (await ev.get("/v1/datasets/faq", headers=AUTH)).json()["examples"]
    return sorted(i["call_id"] for i in items), [e["example_id"] for e in examples]  # items: in the order read


async def test_a_subject_is_erased_from_review_items_and_dataset_examples(
    kafka_bootstrap: str, producer: EventProducer, warehouse: str, erased: dict[tuple[str, str], list[str]],
    tmp_path: Path,
) -> None:  # fmt: skip
    tenant, request_id = new_tenant(), f"req-{uuid.uuid4().hex[:8]}"
    await producer.publish_many(_state(tenant))
    async with _services(kafka_bootstrap, tmp_path, tenant, warehouse) as (fb, ev):
        assert await _held(fb, ev) == (["call-erased", "call-kept"], ["e0", "e1", "e2"])
        await producer.publish_many([_request(tenant, request_id)])

        async def first_pass() -> bool:  # the example naming the e-mail address, at once
            return (await _held(fb, ev))[1] == ["e0", "e2"]

        await wait_until(first_pass, "the example naming the subject erased")
        erased[(tenant, request_id)] = ["call-erased", "call-never-reviewed"]
        await producer.publish_many([_warehouse_receipt(tenant, request_id)])

        async def receipts() -> dict[str, ErasureProcessed]:
            found = [
                parse_event(v).data for _, v in await _values(kafka_bootstrap, ErasureProcessed.topic, tenant) if v
            ]
            return {r.service: r for r in found if r.request_id == request_id}

        async def both_receipts() -> bool:
            return {"feedback", "evaluation"} <= (await receipts()).keys()

        await wait_until(both_receipts, "the receipts of feedback and evaluation")
        sent = await receipts()
        assert sent["feedback"].counts == {"review_items": 1} and sent["feedback"].status == "completed"
        assert sent["evaluation"].counts == {"dataset_examples": 2} and sent["evaluation"].rows_affected == 2
        assert await _held(fb, ev) == (["call-kept"], ["e2"])

    items = await _values(kafka_bootstrap, ReviewItemUpdated.topic, tenant)
    assert (f"{tenant}:low:call-erased", None) in items  # the tombstone compaction keeps until it is purged
    async with _services(kafka_bootstrap, tmp_path, tenant, warehouse) as (fb, ev):  # re-read from offset 0
        assert await _held(fb, ev) == (["call-kept"], ["e2"])
        shown = (await ev.get("/v1/datasets/faq", headers=AUTH)).json()
        assert shown["dataset"]["examples"] == 3 and shown["erased"] == 2  # the version as made, less the erased


async def test_an_undecodable_erasure_record_goes_to_the_dlq(
    kafka_bootstrap: str, producer: EventProducer, warehouse: str, tmp_path: Path
) -> None:
    tenant = new_tenant()
    poison = json.dumps({"not": "an event", "tenant": tenant}).encode()
    await producer.send_many([(ErasureRequested.topic, tenant.encode(), poison, ())])
    async with _services(kafka_bootstrap, tmp_path, tenant, warehouse):

        async def dead_lettered() -> bool:
            records = await _values(kafka_bootstrap, f"{ErasureRequested.topic}.dlq", tenant)
            return sum(value == poison for _, value in records) == 2  # one per service

        await wait_until(dead_lettered, "the poison record in the DLQ, once per service")
