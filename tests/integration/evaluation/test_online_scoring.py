"""Online scoring end to end on the session broker and chDB: the evaluation service as production wires it
(materialised configuration, consumer group, API), the warehouse consumer and its generic read.

* a call published on ``llmops.calls.recorded`` comes out as scores queryable from ``GET /v1/events/evaluation_scores``;
* the same call delivered again is not scored twice (the same score ids: one row per score);
* an evaluator that raises is isolated: the call's other evaluators score it, the failure is counted;
* the configuration written through the API is read back from the compacted topic by a new replica.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_evaluation.bootstrap import create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.heuristics import KINDS, Answer, Verdict
from llmops_evaluation.heuristics.text import Refusal
from llmops_evaluation.metrics import EVALUATOR_FAILURES
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.evaluation.calls import call

pytestmark = pytest.mark.integration

ADMIN = "llmops_it_evaluation_admin_key_0000000000"


class Explodes(Refusal):
    """A kind whose judge always raises (planted for the test; every other part is production's)."""

    kind = "explodes"

    @classmethod
    def build(cls, params: Any) -> Callable[[Answer], list[Verdict]]:
        def judge(_: Answer) -> list[Verdict]:
            raise RuntimeError("the evaluator is broken")

        return judge


def keys_file(tmp_path: Path, tenant: str) -> Path:
    path = tmp_path / "keys.yaml"
    record = {"id": "it-admin", "tenant_id": tenant, "role": "admin", "sha256": hash_key(ADMIN)}
    path.write_text(yaml.safe_dump({"keys": [record]}))
    return path


@asynccontextmanager
async def served(settings: EvaluationSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://evaluation",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ) as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready, "the evaluation service ready (configuration loaded, consumer running)", timeout_s=60)
        yield client


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap, service="evaluation-it")
    await producer.start()
    yield producer
    await producer.stop()


async def test_calls_are_scored_once_into_the_warehouse_and_a_failing_evaluator_is_isolated(
    kafka_bootstrap: str,
    producer: EventProducer,
    chdb_client: Any,
    warehouse_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(KINDS, "explodes", Explodes)  # type: ignore[index]
    tenant = f"t-{uuid.uuid4().hex[:16]}"
    settings = EvaluationSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        api_keys_file=keys_file(tmp_path, tenant),
        consumer_group=f"evaluation-it-{uuid.uuid4().hex[:12]}",
        batch_wait_ms=100,
    )
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    sink = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"wh-{uuid.uuid4().hex[:12]}"),
        store,
        producer,
    )
    warehouse = warehouse_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), reader_keys(tenant)),
    )
    now = datetime.now(UTC) - timedelta(minutes=1)
    first = call(tenant, call_id="call-a", output='Sure:\n```json\n{"qty": 2}\n```', started_at=now)
    second = call(tenant, call_id="call-b", output="not json at all", started_at=now)
    failures_before = EVALUATOR_FAILURES.labels("explodes", "error")._value.get()
    scores = scores_of(warehouse, tenant)
    await sink.start()
    try:
        async with warehouse.router.lifespan_context(warehouse), served(settings) as client:
            for name, body in {
                "answer-length": {"kind": "length", "app": "support-bot", "params": {"max_chars": 200}},
                "answer-json": {"kind": "json", "app": "support-bot", "params": {"schema": {"type": "object"}}},
                "broken": {"kind": "explodes", "app": "support-bot"},
            }.items():
                response = await client.put(f"/v1/evaluators/{name}", json=body)
                assert response.status_code == 201, response.text

            await producer.publish_many([first])
            await wait_until(lambda: has(scores, "call-a", 1), "the first call's scores in the warehouse")
            await producer.publish_many([first, second])  # a redelivery, then a new call behind it
            await wait_until(lambda: has(scores, "call-b", 1), "the second call's scores")
            rows = await scores("call-a")
    finally:
        await sink.stop()
        await store.stop()

    # One pass per call, stored once although the call was delivered twice; the broken evaluator's failure is
    # recorded beside the scores.
    [row] = rows
    items = row["data"]["scores"]
    assert sorted((i["evaluator"]["name"], i["metric"], i["outcome"], i.get("passed")) for i in items) == [
        ("answer-json", "json_schema", "scored", True),
        ("answer-json", "json_valid", "scored", True),
        ("answer-length", "length", "scored", True),
        ("broken", "explodes", "error", None),
    ]
    # Three deliveries of a call to the broken evaluator (the redelivery included), none of them a score.
    assert EVALUATOR_FAILURES.labels("explodes", "error")._value.get() >= failures_before + 3

    # A new replica reads the configuration back from the compacted topic.
    restarted = settings.model_copy(update={"consumer_group": f"evaluation-it-{uuid.uuid4().hex[:12]}"})
    async with served(restarted) as client:
        listed = (await client.get("/v1/evaluators")).json()["items"]
        assert [i["config"]["name"] for i in listed] == ["answer-json", "answer-length", "broken"]


def reader_keys(tenant: str) -> ApiKeyStore:
    """The warehouse's keys: the same key, as a reader of the tenant."""
    return ApiKeyStore([ApiKeyRecord(id="it-reader", tenant_id=tenant, role="reader", sha256=hash_key(ADMIN))])


def scores_of(warehouse: Any, tenant: str) -> Callable[[str], Awaitable[list[dict[str, Any]]]]:
    async def read(call_id: str) -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=warehouse)
        async with httpx.AsyncClient(transport=transport, base_url="http://warehouse") as client:
            page = await client.get(
                "/v1/events/evaluation_scores",
                params={"call_id": call_id, "limit": 100},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        return items

    return read


async def has(scores: Callable[[str], Awaitable[list[dict[str, Any]]]], call_id: str, count: int) -> bool:
    return len(await scores(call_id)) >= count
