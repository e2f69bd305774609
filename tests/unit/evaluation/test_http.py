"""The evaluator API on the real routes with the kit's in-memory publisher: roles, validation, state, Kafka down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import EvaluatorConfigured
from llmops_schemas.v2 import AuditRecorded

ADMIN, READER, OTHER = "llmops_admin_key_for_tests_0000000000000000", "llmops_reader_key_0000", "llmops_other_admin_00"
KEYS = ApiKeyStore(
    [
        ApiKeyRecord(id="admin", tenant_id="acme", role="admin", sha256=hash_key(ADMIN)),
        ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(READER)),
        ApiKeyRecord(id="other", tenant_id="globex", role="admin", sha256=hash_key(OTHER)),
    ]
)
SPEC = {"kind": "length", "app": "support-bot", "params": {"max_chars": 2000}, "sampling_rate": 0.5}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Harness:
    def __init__(self, *, caught_up: bool = True, max_per_tenant: int = 200) -> None:
        self.publisher = InMemoryPublisher()
        self.store = EvaluatorStore()
        if caught_up:
            self.store.mark_caught_up()
        settings = EvaluationSettings(max_evaluators_per_tenant=max_per_tenant)
        self.app = create_app(settings, ports=EvaluationPorts(self.publisher, KEYS, self.store))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://evaluation")


@pytest.fixture
async def harness() -> AsyncIterator[tuple[Harness, httpx.AsyncClient]]:
    h = Harness()
    async with h.client() as client:
        yield h, client


async def test_put_list_get_delete(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    h, client = harness
    created = await client.put("/v1/evaluators/answer-length", json=SPEC, headers=auth(ADMIN))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["config"]["name"] == "answer-length" and view["version"].startswith("1+")
    replaced = await client.put("/v1/evaluators/answer-length", json={**SPEC, "enabled": False}, headers=auth(ADMIN))
    assert replaced.status_code == 200 and replaced.json()["version"] == view["version"]
    [published, _] = h.publisher.of(EvaluatorConfigured)
    assert (published.name, published.sampling_rate) == ("answer-length", 0.5)
    assert h.publisher.records(EvaluatorConfigured.topic)[0][0] == b"acme:answer-length"

    listed = await client.get("/v1/evaluators", headers=auth(READER))
    assert [i["config"]["enabled"] for i in listed.json()["items"]] == [False]
    assert (await client.get("/v1/evaluators", params={"app": "x"}, headers=auth(READER))).json() == {"items": []}
    assert (await client.get("/v1/evaluators/answer-length", headers=auth(READER))).status_code == 200

    assert (await client.delete("/v1/evaluators/answer-length", headers=auth(ADMIN))).status_code == 204
    assert h.publisher.of(EvaluatorConfigured)[-1].deleted is True
    gone = await client.get("/v1/evaluators/answer-length", headers=auth(READER))
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
    assert (await client.delete("/v1/evaluators/answer-length", headers=auth(ADMIN))).status_code == 404
    audits = h.publisher.of(AuditRecorded)
    assert [(a.action, a.resource.id, a.actor.id) for a in audits] == [
        ("evaluator.create", "answer-length", "admin"),
        ("evaluator.update", "answer-length", "admin"),
        ("evaluator.delete", "answer-length", "admin"),
    ]


async def test_a_deleted_record_removes_the_evaluator_when_replayed() -> None:
    h = Harness()
    async with h.client() as client:
        await client.put("/v1/evaluators/a", json=SPEC, headers=auth(ADMIN))
        await client.delete("/v1/evaluators/a", headers=auth(ADMIN))
    replayed = EvaluatorStore()
    for event in h.publisher.on(EvaluatorConfigured.topic):
        replayed.apply(event)
    assert replayed.evaluators("acme") == []


async def test_tenants_never_see_each_other(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    _, client = harness
    await client.put("/v1/evaluators/mine", json=SPEC, headers=auth(ADMIN))
    assert (await client.get("/v1/evaluators", headers=auth(OTHER))).json() == {"items": []}
    assert (await client.get("/v1/evaluators/mine", headers=auth(OTHER))).status_code == 404
    assert (await client.delete("/v1/evaluators/mine", headers=auth(OTHER))).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({**SPEC, "kind": "nope"}, 422, "unknown evaluator kind 'nope'"),
        ({**SPEC, "params": {"max_chars": -1}}, 422, "max_chars: Input should be greater than or equal to 0"),
        ({**SPEC, "params": {"typo": 1}}, 422, "typo: Extra inputs are not permitted"),
        ({"kind": "regex", "app": "a", "params": {"must": ["(a)\\1"]}}, 422, "is not valid RE2 syntax"),
        ({"kind": "json", "app": "a", "params": {"schema": {"type": 5}}}, 422, "not a valid JSON Schema"),
        ({**SPEC, "sampling_rate": 2}, 422, "the request is not valid"),
        ({**SPEC, "unknown": 1}, 422, "the request is not valid"),
        ({"kind": "length"}, 422, "the request is not valid"),
    ],
    ids=["kind", "param-range", "param-typo", "regex", "schema", "sampling", "extra-field", "no-app"],
)
async def test_invalid_specs_are_422_naming_the_problem(
    harness: tuple[Harness, httpx.AsyncClient], body: dict[str, Any], status: int, detail: str
) -> None:
    h, client = harness
    response = await client.put("/v1/evaluators/e", json=body, headers=auth(ADMIN))
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert h.publisher.events == []


@pytest.mark.parametrize("name", ["-leading-dash", "has:colon", "x" * 129])
async def test_names_are_slugs(harness: tuple[Harness, httpx.AsyncClient], name: str) -> None:
    _, client = harness
    assert (await client.put(f"/v1/evaluators/{name}", json=SPEC, headers=auth(ADMIN))).status_code == 422


async def test_roles(harness: tuple[Harness, httpx.AsyncClient]) -> None:
    _, client = harness
    assert (await client.put("/v1/evaluators/e", json=SPEC, headers=auth(READER))).status_code == 403
    assert (await client.delete("/v1/evaluators/e", headers=auth(READER))).status_code == 403
    assert (await client.get("/v1/evaluators")).status_code == 401
    kinds = await client.get("/v1/evaluator-kinds", headers=auth(READER))
    assert [k["kind"] for k in kinds.json()] == [
        *("banned_terms", "bleu", "exact_match", "groundedness", "json", "language", "length", "llm_judge"),
        *("llm_judge_pairwise", "normalized_match", "refusal", "regex", "rouge_l", "secrets", "similarity"),
        "token_f1",
    ]


async def test_the_tenant_limit_is_409() -> None:
    h = Harness(max_per_tenant=1)
    async with h.client() as client:
        assert (await client.put("/v1/evaluators/a", json=SPEC, headers=auth(ADMIN))).status_code == 201
        assert (await client.put("/v1/evaluators/a", json=SPEC, headers=auth(ADMIN))).status_code == 200
        refused = await client.put("/v1/evaluators/b", json=SPEC, headers=auth(ADMIN))
    assert refused.status_code == 409 and "limit" in refused.json()["detail"]


async def test_503_while_loading_and_when_kafka_is_down() -> None:
    loading = Harness(caught_up=False)
    async with loading.client() as client:
        assert (await client.get("/v1/evaluators", headers=auth(READER))).status_code == 503
        assert (await client.put("/v1/evaluators/a", json=SPEC, headers=auth(ADMIN))).status_code == 503
    down = Harness()
    down.publisher.failure = ConnectionError("no broker")
    async with down.client() as client:
        refused = await client.put("/v1/evaluators/a", json=SPEC, headers=auth(ADMIN))
        assert refused.status_code == 503 and "could not be stored" in refused.json()["detail"]
        # Nothing applied locally that Kafka did not take.
        down.publisher.failure = None
        assert (await client.get("/v1/evaluators", headers=auth(READER))).json() == {"items": []}
