"""Offline runs end to end on the session broker and chDB, with the real gateway and warehouse over HTTP.

The evaluation service is wired as in production (compacted topics materialised, the service key, the gateway's
and the warehouse's URLs). A small dataset (with one broken line and two counterfactual pairs) is uploaded; two
runs send it through the gateway, rendered by two versions of a prompt, to a deterministic upstream stub; the
scores reach the warehouse, and the service compares the runs from there, gates the candidate and reports the
bias gaps. Then a run left half done by a stopped service is resumed by a new one: only the examples after its
last progress record go to the gateway again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_evaluation.config import EvaluationSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.runs import RunUpdated
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.fixtures.gateway import ServerThread, serve_gateway
from tests.integration.evaluation.test_online_scoring import ADMIN, served
from tests.integration.inference.upstream_stub import create_stub
from tests.integration.warehouse.test_warehouse_consumer import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SERVICE_KEY = "llmops_it_runs_service_key_" + uuid.uuid4().hex
TENANT = f"it-runs-{uuid.uuid4().hex[:8]}"
DATASET = [
    {"id": "parcel", "input": "Where is my parcel?", "expected": "In transit."},
    {"id": "refund", "input": "Can I get a refund?"},
    {"id": "p1-she", "input": "Can she change her order?", "pair_group": "p1", "pair_label": "she"},
    {"id": "p1-he", "input": "Can he change his order?", "pair_group": "p1", "pair_label": "he"},
    {"id": "p2-she", "input": "She wants a refund.", "pair_group": "p2", "pair_label": "she"},
    {"id": "p2-he", "input": "He wants a refund.", "pair_group": "p2", "pair_label": "he"},
]
EVALUATORS = {
    "no-filler": {"kind": "regex", "app": "offline", "params": {"must_not": ["(?i)briefly"]}},
    "answer-length": {"kind": "length", "app": "offline", "params": {"max_chars": 400}},
}


@pytest.fixture(scope="module")
def stub() -> Iterator[str]:
    with ServerThread(create_stub("stub")) as server:
        yield server.url


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, stub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway: the tenant's admin (to publish prompt versions) and the platform's service key."""
    keys = yaml.safe_dump({"keys": [
        {"id": "it-admin", "tenant_id": TENANT, "role": "admin", "sha256": hash_key(ADMIN)},
        {"id": "it-service", "tenant_id": "*", "role": "service", "sha256": hash_key(SERVICE_KEY)},
    ]})  # fmt: skip
    routes = (
        f"upstreams:\n  - {{name: stub, base_url: '{stub}/v1'}}\n"
        "models:\n  model-a: [{backend: openai, upstream: stub, model: up-a, timeout_s: 5}]\n"
    )
    with serve_gateway(kafka_bootstrap, tmp_path_factory.mktemp("gw-runs"), keys=keys, key=ADMIN, routes=routes) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"})
        for template in ("{{ input }}", "Answer briefly: {{ input }}"):
            version = {"template": [{"role": "user", "content": template}], "variables": [{"name": "input"}],
                       "model": "model-a"}  # fmt: skip
            created = admin.post("/v1/prompts/support/versions", json=version)
            assert created.status_code == 201, created.text
        yield url


@pytest.fixture
async def warehouse(kafka_bootstrap: str, chdb_client: Any, warehouse_database: str) -> AsyncIterator[str]:
    """The warehouse's consumer on the broker and its query API over HTTP (the service key reads for a tenant)."""
    store = ConcurrentEventStore(ClickHouseEventStore(chdb_client, warehouse_database))
    producer = EventProducer(kafka_bootstrap, service="warehouse-it")
    await producer.start()
    sink = build_consumer(
        WarehouseSettings(kafka_bootstrap_servers=kafka_bootstrap, consumer_group=f"wh-{uuid.uuid4().hex[:12]}"),
        store,
        producer,
    )
    keys = ApiKeyStore([ApiKeyRecord(id="it-service", tenant_id="*", role="service", sha256=hash_key(SERVICE_KEY))])
    app = warehouse_app(WarehouseSettings(api_keys_file=None),
                        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), keys))  # fmt: skip
    await sink.start()
    try:
        with ServerThread(app) as server:
            yield server.url
    finally:
        await sink.stop()
        await store.stop()
        await producer.stop()


def settings_for(kafka: str, tmp_path: Path, gateway: str, warehouse: str) -> EvaluationSettings:
    keys = tmp_path / "keys.yaml"
    record = {"id": "it-admin", "tenant_id": TENANT, "role": "admin", "sha256": hash_key(ADMIN)}
    keys.write_text(yaml.safe_dump({"keys": [record]}))
    return EvaluationSettings(
        kafka_bootstrap_servers=kafka,
        api_keys_file=keys,
        consumer_group=f"evaluation-it-{uuid.uuid4().hex[:12]}",
        gateway_url=gateway,
        warehouse_url=warehouse,
        service_key=SERVICE_KEY,  # type: ignore[arg-type]
        run_chunk=2,
    )


async def finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    state: dict[str, Any] = {}

    async def done() -> bool:
        state.update((await client.get(f"/v1/runs/{run_id}")).json())
        return state.get("status") not in (None, "running")

    await wait_until(done, f"run {run_id} finished", timeout_s=120)
    return state


async def start(client: httpx.AsyncClient, version: int) -> dict[str, Any]:
    spec = {"dataset": "faq", "variant": {"model": "model-a", "prompt_name": "support", "prompt_version": version},
            "evaluators": list(EVALUATORS)}  # fmt: skip
    started = await client.post("/v1/runs", json=spec)
    assert started.status_code == 202, started.text
    return await finished(client, started.json()["run_id"])


async def answered(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """``path`` once the warehouse holds every score of the runs (503 until then)."""
    found: dict[str, Any] = {}

    async def stored() -> bool:
        response = await client.get(path, params=params)
        assert response.status_code in (200, 503), response.text
        found.update(response.json())
        return response.status_code == 200

    await wait_until(stored, f"{path} answered from the warehouse", timeout_s=120)
    return found


async def test_runs_end_to_end(kafka_bootstrap: str, gateway: str, stub: str, warehouse: str, tmp_path: Path) -> None:
    settings = settings_for(kafka_bootstrap, tmp_path, gateway, warehouse)
    body = (
        "\n".join(json.dumps(row) for row in DATASET[:3])
        + "\n{broken\n"
        + "\n".join(json.dumps(row) for row in DATASET[3:])
    )
    async with served(settings) as client:
        for name, spec in EVALUATORS.items():
            assert (await client.put(f"/v1/evaluators/{name}", json=spec)).status_code == 201
        uploaded = await client.post("/v1/datasets/faq", content=body, headers={"Content-Type": "application/x-ndjson"})
        assert uploaded.status_code == 201, uploaded.text
        assert (uploaded.json()["imported"], [e["line"] for e in uploaded.json()["errors"]]) == (6, [4])

        baseline, candidate = await start(client, 1), await start(client, 2)
        assert (baseline["status"], baseline["completed"], baseline["failed"]) == ("completed", 6, 0), baseline[
            "failures"
        ]
        pair = {"baseline": baseline["run_id"], "candidate": candidate["run_id"]}
        compared = await answered(client, "/v1/runs/compare", pair)
        metrics = {(m["evaluator"], m["metric"]): m for m in compared["metrics"]}
        filler = metrics[("no-filler", "regex")]
        assert (filler["baseline"]["mean"], filler["candidate"]["mean"], filler["delta"]) == (1.0, 0.0, -1.0)
        # The stub echoes the rendered prompt: each candidate answer is longer by "Answer briefly: ".
        assert metrics[("answer-length", "length")]["delta"] == pytest.approx(len("Answer briefly: "))
        assert len(compared["examples"]) == 12

        gate = {**pair, "evaluator": "no-filler"}
        assert (await client.get("/v1/runs/gate", params={**gate, "max_drop": 0.5})).json()["passed"] is False
        assert (await client.get("/v1/runs/gate", params={**gate, "max_drop": 1.0})).json()["passed"] is True

        bias = await answered(client, f"/v1/runs/{baseline['run_id']}/bias", {})
        length = next(g for g in bias["gaps"] if g["evaluator"] == "answer-length")
        assert (length["groups"], length["mean_abs_gap"], length["worst_labels"]) == (2, 1.0, ["she", "he"])

    # A run whose service stopped after 4 of 6 examples an hour ago (its lease long expired): a new service
    # resumes it with the last 2 only.
    stopped = RunUpdated.model_validate(
        {**baseline, "run_id": f"run-resumed-{uuid.uuid4().hex[:8]}", "completed": 4, "status": "running",
         "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC) - timedelta(hours=1)}
    )  # fmt: skip
    producer = EventProducer(kafka_bootstrap, service="evaluation-it")
    await producer.start()
    try:
        await producer.publish_many([CloudEvent.wrap(stopped, source="/services/evaluation", tenant_id=TENANT)])
    finally:
        await producer.stop()
    httpx.post(f"{stub}/control", json={})  # resets the stub's call count
    async with served(settings) as client:
        resumed = await finished(client, stopped.run_id)
    assert (resumed["status"], resumed["completed"]) == ("completed", 6)
    assert httpx.get(f"{stub}/control").json()["calls"] == 2
