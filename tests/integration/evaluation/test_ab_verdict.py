"""An A/B verdict from stored calls: the session broker, the warehouse (consumer, chDB, query API with a service
key) and the evaluation service's history reader and verdict, as production wires them.

The experiment, its calls (recorded by the gateway, plus an ingest-submitted call and a platform call that
must not count), their scores, a feedback and a cost record go through Kafka into the warehouse; the verdict
reads them back through ``GET /v1/calls`` and ``GET /v1/events/...`` and finds the variant better.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from llmops_evaluation.abtest.compare import Design
from llmops_evaluation.abtest.history import WarehouseHistory
from llmops_evaluation.abtest.service import VerdictService
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import CostRecorded, ExperimentConfigured
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import EvaluationScored, FeedbackReceived
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.evaluation.calls import call

pytestmark = pytest.mark.integration

SERVICE_KEY = "llmops_it_evaluation_service_key_000000000"
GATEWAY = "/services/inference"
CALLS_PER_ARM = 120


def experiment(tenant: str, experiment_id: str) -> CloudEvent[ExperimentConfigured]:
    data = {
        **example_data(ExperimentConfigured),
        "experiment_id": experiment_id,
        "app": "support-bot",
        "kind": "ab",
        "status": "running",
        "control": "mini",
        "variants": [{"name": "mini", "weight": 0.5}, {"name": "full", "weight": 0.5}],
        "primary_metric": "relevance",
        "version": 4,
    }
    return CloudEvent.wrap(ExperimentConfigured.model_validate(data), source=GATEWAY, tenant_id=tenant)


def recorded(tenant: str, experiment_id: str, start: datetime) -> list[CloudEvent[Any]]:
    """Per arm, calls the gateway recorded, each with a relevance score (``full`` scores one point higher)."""
    rng = np.random.default_rng(4)
    events: list[CloudEvent[Any]] = []
    for i in range(2 * CALLS_PER_ARM):
        variant, at = ("mini", "full")[i % 2], start + timedelta(milliseconds=10 * i)
        gateway_call = call(tenant, call_id=f"call-{i}", started_at=at,
                            experiment={"experiment_id": experiment_id, "variant": variant})  # fmt: skip
        events.append(gateway_call.model_copy(update={"source": GATEWAY}))
        score = float(np.clip(rng.normal(3.0 + (variant == "full"), 1.0), 0, 5))
        events.append(scored(tenant, f"call-{i}", score, at))
    ref = {"experiment_id": experiment_id, "variant": "full"}
    ingested = call(tenant, call_id="via-ingest", started_at=start, experiment=ref)  # source: ingest
    platform = call(tenant, call_id="judge", started_at=start, experiment=ref, origin="platform")
    return [*events, ingested, platform.model_copy(update={"source": GATEWAY})]


def scored(tenant: str, call_id: str, score: float, at: datetime) -> CloudEvent[EvaluationScored]:
    """A v2 pass: the relevance score, and a malformed judge answer that must not count as a score."""
    judge = {"name": "relevance-judge", "version": "1", "kind": "llm_judge", "judge_model": "demo-judge"}
    items = [
        {"score_id": f"s-{call_id}", "evaluator": judge, "metric": "relevance", "score": score, "score_max": 5},
        {"score_id": f"m-{call_id}", "evaluator": judge, "metric": "tone", "outcome": "malformed"},
    ]
    data = {"evaluation_id": f"e-{call_id}", "call_id": call_id, "app": "support-bot", "scores": items, "judged_at": at}
    return CloudEvent.wrap(EvaluationScored.model_validate(data), source="/services/evaluation", tenant_id=tenant)


def extras(tenant: str, at: datetime) -> list[CloudEvent[Any]]:
    feedback = {
        **example_data(FeedbackReceived),
        "call_id": "call-1",
        "kind": "thumbs",
        "value": 1,
        "label": None,
        "given_at": at,
    }
    cost = {**example_data(CostRecorded), "call_id": "call-1", "app": "support-bot", "call_started_at": at,
            "recorded_at": at}  # fmt: skip
    return [
        CloudEvent.wrap(FeedbackReceived.model_validate(feedback), source="/services/feedback", tenant_id=tenant),
        CloudEvent.wrap(CostRecorded.model_validate(cost), source="/services/cost", tenant_id=tenant),
    ]


async def test_a_verdict_computed_from_stored_calls(
    kafka_bootstrap: str, chdb_client: Any, warehouse_database: str, tmp_path: Path
) -> None:
    tenant, experiment_id = f"t-{uuid.uuid4().hex[:16]}", f"exp-{uuid.uuid4().hex[:8]}"
    producer = EventProducer(kafka_bootstrap, service="evaluation-it")
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    group = f"wh-{uuid.uuid4().hex[:12]}"
    sink = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=group), store, producer
    )
    keys = ApiKeyStore([ApiKeyRecord(id="svc-evaluation", tenant_id="*", role="service", sha256=hash_key(SERVICE_KEY))])
    warehouse = warehouse_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), keys),
    )
    client = PlatformClient("warehouse", "http://warehouse", SERVICE_KEY, transport=httpx.ASGITransport(app=warehouse))
    reader = WarehouseReader(client)
    history = WarehouseHistory(reader, gateway_source=GATEWAY, max_calls=10_000, max_events=10_000)
    start = datetime.now(UTC) - timedelta(minutes=5)
    await producer.start()
    await client.start()
    await sink.start()
    try:
        async with warehouse.router.lifespan_context(warehouse):
            await producer.publish_many([experiment(tenant, experiment_id), *recorded(tenant, experiment_id, start)])
            await producer.publish_many(extras(tenant, start + timedelta(seconds=1)))

            async def stored() -> bool:
                costs = await client.request("GET", "/v1/events/cost_records", tenant)
                calls = await client.request("GET", "/v1/calls", tenant, params={"limit": 1000})
                scores = await client.request("GET", "/v1/events/evaluation_scores", tenant, params={"limit": 1000})
                configs = await client.request(
                    "GET", "/v1/events/experiments", tenant, params={"experiment_id": experiment_id}
                )  # its own topic: stored apart from (and maybe after) the calls
                expected = (2 * CALLS_PER_ARM + 2, 2 * CALLS_PER_ARM)
                counts = (len(calls["items"]), len(scores["items"]))
                return bool(costs["items"]) and bool(configs["items"]) and counts == expected

            await wait_until(stored, "the experiment, its calls, scores and cost in the warehouse", timeout_s=90)
            data = await history.load(tenant, experiment_id)
            verdict = await VerdictService(history, Design(min_samples=50), concurrency=1).verdict(
                tenant, experiment_id
            )
    finally:
        await sink.stop()
        await store.stop()
        await producer.stop()
        await client.stop()

    assert len(data.calls) == 2 * CALLS_PER_ARM  # neither the ingest-submitted nor the platform call
    assert data.costs == {"call-1": pytest.approx(float(example_data(CostRecorded)["cost"]))}
    assert [f.value for f in data.feedback] == [1.0]
    assert (verdict.verdict, verdict.winner, verdict.primary_metric, verdict.experiment_version) == (
        "variant_better", "full", "relevance", 4
    )  # fmt: skip
    [full] = verdict.variants
    assert (verdict.control_calls, full.calls) == (CALLS_PER_ARM, CALLS_PER_ARM)
    assert {m.metric for m in full.metrics} == {"relevance", "error_rate", "latency_ms", "cost", "thumbs_up"}
