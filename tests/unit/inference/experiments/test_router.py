"""The experiments HTTP API in a small app: auth (401/403), tenancy, and the 201/404/409/422 paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_evaluation.abtest.acting import GatewayExperiments
from llmops_inference.experiments.router import router
from llmops_inference.experiments.service import ExperimentRegistry
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformCallError, PlatformClient
from llmops_schemas.v2 import AuditRecorded

from tests.unit.inference.experiments.definitions import AB, CANARY
from tests.unit.inference.prompts.fakes import app_with, auth, write_keys


@pytest.fixture
async def client(tmp_path: Path, registry: ExperimentRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = app_with(write_keys(tmp_path / "keys.yaml"), experiment_registry=registry)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_create_list_get_patch_stop(client: httpx.AsyncClient, sink: InMemoryPublisher) -> None:
    admin = {**auth("admin"), "X-Request-ID": "req-1", "User-Agent": "pytest"}
    created = await client.post("/v1/experiments", json=CANARY, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["version"]) == ("running", 1)

    listed = await client.get("/v1/experiments", headers=auth("reader"))
    assert [e["experiment_id"] for e in listed.json()["items"]] == ["canary-v3"]
    running = await client.get("/v1/experiments", params={"status": "running"}, headers=auth("reader"))
    assert len(running.json()["items"]) == 1
    assert (await client.get("/v1/experiments", params={"status": "paused"}, headers=auth("reader"))).json() == {
        "items": []
    }

    raised = await client.patch("/v1/experiments/canary-v3", json={"canary_weight": 0.25}, headers=admin)
    assert raised.status_code == 200
    assert [v["weight"] for v in raised.json()["variants"]] == [0.75, 0.25]

    stopped = await client.post("/v1/experiments/canary-v3/stop", headers=admin)
    assert (stopped.status_code, stopped.json()["status"]) == (200, "completed")
    got = await client.get("/v1/experiments/canary-v3", headers=auth("reader"))
    assert got.json()["version"] == 3

    entries = sink.of(AuditRecorded)
    assert [e.action for e in entries] == ["experiment.start", "experiment.update", "experiment.stop"]
    assert entries[0].request_id == "req-1"
    assert (entries[0].before_digest, entries[0].after_digest is not None) == (None, True)


async def test_conflicts_are_409(client: httpx.AsyncClient) -> None:
    admin = auth("admin")
    await client.post("/v1/experiments", json=AB, headers=admin)
    again = await client.post("/v1/experiments", json=AB, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "experiment_conflict"
    stale = await client.patch(
        "/v1/experiments/exp-mini-vs-4o", json={"status": "paused", "expected_version": 7}, headers=admin
    )
    assert stale.status_code == 409


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/experiments", {**AB, "variants": AB["variants"][:1]}),
        ("POST", "/v1/experiments", {**AB, "kind": "bandit"}),
        ("POST", "/v1/experiments", {**AB, "variants": [{**v, "weight": 0.4} for v in AB["variants"]]}),
        ("PATCH", "/v1/experiments/exp-mini-vs-4o", {}),
        ("PATCH", "/v1/experiments/exp-mini-vs-4o", {"weights": {"full": 2}}),
        ("PATCH", "/v1/experiments/exp-mini-vs-4o", {"status": "completed"}),
    ],
)
async def test_invalid_requests_are_422(client: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    await client.post("/v1/experiments", json=AB, headers=auth("admin"))
    response = await client.request(method, path, json=body, headers=auth("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_is_404_and_tenants_are_separate(client: httpx.AsyncClient) -> None:
    await client.post("/v1/experiments", json=AB, headers=auth("admin"))
    assert (await client.get("/v1/experiments/nope", headers=auth("reader"))).status_code == 404
    assert (await client.get("/v1/experiments/exp-mini-vs-4o", headers=auth("other-admin"))).status_code == 404
    assert (await client.post("/v1/experiments/exp-mini-vs-4o/stop", headers=auth("other-admin"))).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/experiments", AB),
        ("PATCH", "/v1/experiments/exp-mini-vs-4o", {"status": "paused"}),
        ("POST", "/v1/experiments/exp-mini-vs-4o/stop", None),
    ],
)
async def test_writes_need_a_key_and_admin(client: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    assert (await client.request(method, path, json=body)).status_code == 401
    for key in ("reader", "writer", "ingest"):
        assert (await client.request(method, path, json=body, headers=auth(key))).status_code == 403


async def test_reads_need_a_key_and_calls_read(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/experiments")).status_code == 401
    assert (await client.get("/v1/experiments", headers=auth("ingest"))).status_code == 403
    assert (await client.get("/v1/experiments", headers=auth("reader"))).status_code == 200


async def test_a_service_key_moves_weights_only_and_for_the_tenant_it_names(
    client: httpx.AsyncClient, sink: InMemoryPublisher
) -> None:
    """The evaluation service's verdict policy (ADR 0024): weights and expected_version, nothing else."""
    await client.post("/v1/experiments", json=AB, headers=auth("admin"))
    service = {**auth("evaluation"), "X-LLMOps-Tenant": "acme"}
    weights = {"weights": {"mini": 0.0, "full": 1.0, "local": 0.0}, "expected_version": 1}
    moved = await client.patch("/v1/experiments/exp-mini-vs-4o", json=weights, headers=service)
    assert moved.status_code == 200, moved.text
    assert [v["weight"] for v in moved.json()["variants"]] == [0.0, 1.0, 0.0]
    assert (sink.of(AuditRecorded)[-1].action, sink.of(AuditRecorded)[-1].actor.id) == (
        "experiment.update",
        "evaluation",
    )
    paused = await client.patch("/v1/experiments/exp-mini-vs-4o", json={"status": "paused"}, headers=service)
    assert paused.status_code == 403 and paused.json()["detail"] == "this key may change an experiment's weights only"
    assert (await client.post("/v1/experiments/exp-mini-vs-4o/stop", headers=service)).status_code == 403
    elsewhere = {**auth("evaluation"), "X-LLMOps-Tenant": "globex"}
    assert (await client.patch("/v1/experiments/exp-mini-vs-4o", json=weights, headers=elsewhere)).status_code == 404


async def test_the_evaluation_services_adapter_moves_weights_through_this_route(
    tmp_path: Path, registry: ExperimentRegistry
) -> None:
    """The adapter the verdict policies use (``GatewayExperiments`` over the kit's client), against the real
    route: the move applies at the expected version and is a 409 at any other."""
    app = app_with(write_keys(tmp_path / "keys.yaml"), experiment_registry=registry)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as admin:
        assert (await admin.post("/v1/experiments", json=AB, headers=auth("admin"))).status_code == 201
    client = PlatformClient(
        "gateway", "http://gateway", "key-evaluation", transport=httpx.ASGITransport(app=app), attempts=1
    )
    await client.start()
    gateway = GatewayExperiments(client)
    await gateway.set_weights("acme", "exp-mini-vs-4o", {"mini": 1.0, "full": 0.0, "local": 0.0}, expected_version=1)
    assert [v.weight for v in registry.get("acme", "exp-mini-vs-4o").variants] == [1.0, 0.0, 0.0]
    with pytest.raises(PlatformCallError) as stale:
        await gateway.set_weights("acme", "exp-mini-vs-4o", {"mini": 0.0, "full": 1.0, "local": 0.0}, 1)
    assert stale.value.status == 409
    await client.stop()
