"""Verdict policies: the API (audited, through the topic) and the loop that promotes or rolls back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llmops_evaluation.abtest.acting import GatewayExperiments, PolicyLoop
from llmops_evaluation.abtest.policies import PolicyRegistry, PolicySpec, PolicyStore
from llmops_evaluation.abtest.wiring import POLICY_ACTOR, install_verdicts
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.audit import Actor
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformCallError, PlatformClient
from llmops_schemas.v1 import VerdictPolicySet
from llmops_schemas.v2 import AuditRecorded

from tests.unit.evaluation.fake_warehouse import FakeWarehouse
from tests.unit.evaluation.test_verdict import history, stocked

ADMIN, READER = "llmops_admin_key_for_policies_0000", "llmops_reader_key_for_policies_000"
KEYS = ApiKeyStore(
    [
        ApiKeyRecord(id="admin", tenant_id="acme", role="admin", sha256=hash_key(ADMIN)),
        ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(READER)),
    ]
)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def app_with(publisher: InMemoryPublisher, policies: PolicyStore) -> Any:
    store = EvaluatorStore()
    store.mark_caught_up()
    return create_app(EvaluationSettings(), ports=EvaluationPorts(publisher, KEYS, store, policies=policies))


async def test_policy_api_publishes_audits_and_refuses() -> None:
    publisher, policies = InMemoryPublisher(), PolicyStore()
    app = app_with(publisher, policies)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evaluation") as client:
        loading = await client.get("/v1/experiments/exp/policy", headers=auth(READER))
        assert loading.status_code == 503 and loading.headers["Retry-After"] == "5"
        policies.mark_caught_up()
        body = {"promote": True, "rollback": True, "metric": "relevance"}
        armed = await client.put("/v1/experiments/exp/policy", json=body, headers=auth(ADMIN))
        assert armed.status_code == 200, armed.text
        assert (armed.json()["promote"], armed.json()["updated_by"]) == (True, "admin")
        assert publisher.records(VerdictPolicySet.topic)[0][0] == b"acme:exp"
        got = await client.get("/v1/experiments/exp/policy", headers=auth(READER))
        assert got.json()["metric"] == "relevance"
        assert (await client.put("/v1/experiments/exp/policy", json=body, headers=auth(READER))).status_code == 403
        bad = await client.put("/v1/experiments/exp/policy", json={"alpha": 0.7, "x": 1}, headers=auth(ADMIN))
        assert bad.status_code == 422 and {e["loc"][-1] for e in bad.json()["errors"]} == {"alpha", "x"}
        assert (await client.delete("/v1/experiments/exp/policy", headers=auth(ADMIN))).status_code == 204
        assert (await client.get("/v1/experiments/exp/policy", headers=auth(READER))).status_code == 404
        assert (await client.delete("/v1/experiments/exp/policy", headers=auth(ADMIN))).status_code == 404
    assert [a.action for a in publisher.of(AuditRecorded)] == ["verdict_policy.set", "verdict_policy.delete"]
    assert publisher.of(VerdictPolicySet)[-1].deleted


class FakeGateway:
    """Records moves; refuses with ``status`` when set."""

    def __init__(self, status: int | None = None) -> None:
        self.moves: list[tuple[str, str, dict[str, float], int]] = []
        self.status = status

    async def set_weights(
        self, tenant: str, experiment_id: str, weights: dict[str, float], expected_version: int
    ) -> None:
        if self.status is not None:
            raise PlatformCallError("gateway", self.status, "refused")
        self.moves.append((tenant, experiment_id, weights, expected_version))


async def armed_loop(
    warehouse: FakeWarehouse, spec: PolicySpec, gateway: FakeGateway
) -> tuple[PolicyLoop, PolicyRegistry, InMemoryPublisher]:
    publisher, store = InMemoryPublisher(), PolicyStore()
    store.mark_caught_up()
    settings = EvaluationSettings(verdict_min_samples=50)
    reads = await history(warehouse)
    verdicts, registry = install_verdicts(create_app(settings), settings, publisher, reads, store)
    await registry.put("acme", "exp", spec, Actor(key_id="admin"))
    return PolicyLoop(registry, verdicts, gateway, interval_s=60, actor=POLICY_ACTOR), registry, publisher


async def test_a_better_variant_is_promoted_once_and_audited() -> None:
    gateway = FakeGateway()
    loop, registry, publisher = await armed_loop(stocked(400, lift=1.0), PolicySpec(promote=True), gateway)
    assert await loop.run_once() == [("exp", "promoted")]
    assert gateway.moves == [("acme", "exp", {"a": 0.0, "b": 1.0}, 1)]
    policy = registry.get("acme", "exp")
    assert (policy.promote, policy.last_action, policy.updated_by) == (False, "promoted", POLICY_ACTOR.id)
    audit = publisher.of(AuditRecorded)[-1]
    assert (audit.action, audit.outcome, audit.details["target"], audit.details["metric"]) == (
        "experiment.promote", "success", "b", "relevance"
    )  # fmt: skip
    assert await loop.run_once() == [] and len(gateway.moves) == 1


async def test_a_worse_variant_is_rolled_back_only_when_allowed() -> None:
    gateway = FakeGateway()
    loop, _, _ = await armed_loop(stocked(400, lift=-1.0), PolicySpec(promote=True), gateway)
    assert await loop.run_once() == [] and gateway.moves == []
    loop, registry, _ = await armed_loop(stocked(400, lift=-1.0), PolicySpec(rollback=True), gateway)
    assert await loop.run_once() == [("exp", "rolled_back")]
    assert gateway.moves == [("acme", "exp", {"a": 1.0, "b": 0.0}, 1)]
    assert registry.get("acme", "exp").last_action == "rolled_back"


async def test_shadow_experiments_and_refused_moves_stay_armed() -> None:
    shadow = stocked(400, lift=1.0)
    shadow.experiment("acme", "exp", primary_metric="relevance", kind="shadow")
    gateway = FakeGateway()
    loop, _, _ = await armed_loop(shadow, PolicySpec(promote=True), gateway)
    assert await loop.run_once() == [] and gateway.moves == []

    refusing = FakeGateway(status=409)
    loop, registry, publisher = await armed_loop(stocked(400, lift=1.0), PolicySpec(promote=True), refusing)
    assert await loop.run_once() == []
    assert registry.get("acme", "exp").promote is True
    failure = publisher.of(AuditRecorded)[-1]
    assert (failure.action, failure.outcome, failure.details["gateway_status"]) == (
        "experiment.promote",
        "failure",
        409,
    )


async def test_gateway_client_patches_weights_for_the_tenant() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(409 if len(seen) > 1 else 200, json={})

    client = PlatformClient("gateway", "http://gateway", "svc-key", transport=httpx.MockTransport(handle), attempts=1)
    await client.start()
    gateway = GatewayExperiments(client)
    await gateway.set_weights("acme", "exp", {"a": 0.0, "b": 1.0}, 3)
    assert (seen[0].method, seen[0].url.path, seen[0].headers["X-LLMOps-Tenant"]) == (
        "PATCH",
        "/v1/experiments/exp",
        "acme",
    )
    assert json.loads(seen[0].content) == {"weights": {"a": 0.0, "b": 1.0}, "expected_version": 3}
    with pytest.raises(PlatformCallError) as refused:
        await gateway.set_weights("acme", "exp", {"a": 1.0, "b": 0.0}, 3)
    assert refused.value.status == 409
    await client.stop()
