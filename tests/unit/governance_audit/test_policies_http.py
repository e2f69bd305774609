"""The policies API: admins write a tenant's policies (validated, versioned, audited, published to llmops.policies),
operators read them, deletion is a tombstone; bad policies answer 422 naming the field, and a tenant's policies
are its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_governance_audit.policies.registry import PolicyStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v2 import AuditRecorded, PolicyPublished
from llmops_schemas.v2.governance import MAX_TERMS

from tests.unit.governance_audit.conftest import KEYS, auth

OPERATOR = ("llmops_acme_operator_key_0000000000000000", "acme", "operator")
TERMS = {"name": "No code names", "settings": {"kind": "blocked_terms", "app": "support", "terms": ["falcon"]}}


class Policies:
    def __init__(self, client: httpx.AsyncClient, publisher: InMemoryPublisher, tombstones: list[tuple[str, bytes]]):
        self.client, self.publisher, self.tombstones = client, publisher, tombstones

    async def put(self, policy_id: str, body: Any, who: str = "acme-admin") -> httpx.Response:
        return await self.client.put(f"/v1/policies/{policy_id}", json=body, headers=auth(who))

    def audits(self) -> list[tuple[str, str, str]]:
        return [(e.action, e.outcome, e.resource.id) for e in self.publisher.of(AuditRecorded)]


@pytest.fixture
async def policies() -> AsyncIterator[Policies]:
    publisher, tombstones = InMemoryPublisher(), []
    records = [ApiKeyRecord(id=n, tenant_id=t, role=r, sha256=hash_key(k)) for n, (k, t, r) in KEYS.items()]  # type: ignore[arg-type]
    records.append(ApiKeyRecord(id="acme-operator", tenant_id="acme", role="operator", sha256=hash_key(OPERATOR[0])))
    store = PolicyStore()
    store.mark_caught_up()

    async def tombstone(topic: str, key: bytes) -> None:
        tombstones.append((topic, key))

    ports = GovernanceAuditPorts(publisher, ApiKeyStore(records), policies=store, tombstone=tombstone)
    app = create_app(GovernanceAuditSettings(max_policies_per_tenant=3), ports=ports)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://governance") as client:
        yield Policies(client, publisher, tombstones)


async def test_a_policy_is_created_versioned_published_audited_and_deleted(policies: Policies) -> None:
    created = await policies.put("support-terms", TERMS)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["kind"] == "blocked_terms"
    assert (await policies.put("support-terms", TERMS)).status_code == 200, "the same body again changes nothing"
    changed = await policies.put("support-terms", {**TERMS, "enabled": False})
    assert changed.json()["version"] == 2 and changed.json()["enabled"] is False
    (first, second) = policies.publisher.of(PolicyPublished)
    assert (first.version, second.version, second.updated_by) == (1, 2, "acme-admin")
    assert [p.key for p in policies.publisher.published if p.topic == PolicyPublished.topic] == [
        b"acme:support-terms"
    ] * 2
    operator = {"Authorization": f"Bearer {OPERATOR[0]}"}
    listed = await policies.client.get("/v1/policies", headers=operator)
    assert [p["policy_id"] for p in listed.json()["policies"]] == ["support-terms"]
    assert (await policies.put("other", TERMS, who="acme-dev")).status_code == 403
    deleted = await policies.client.delete("/v1/policies/support-terms", headers=auth("acme-admin"))
    assert deleted.status_code == 200 and deleted.json()["version"] == 2
    assert policies.tombstones == [("llmops.policies", b"acme:support-terms")]
    assert (await policies.client.get("/v1/policies/support-terms", headers=operator)).status_code == 404
    assert policies.audits() == [
        ("policy.create", "success", "support-terms"),
        ("policy.update", "success", "support-terms"),
        ("policy.delete", "success", "support-terms"),
    ]


async def test_a_tenants_policies_are_its_own(policies: Policies) -> None:
    await policies.put("support-terms", TERMS)
    assert (await policies.client.get("/v1/policies/support-terms", headers=auth("beta-admin"))).status_code == 404
    assert (await policies.client.delete("/v1/policies/support-terms", headers=auth("beta-admin"))).status_code == 404
    listed = await policies.client.get("/v1/policies", headers=auth("beta-admin"))
    assert listed.json() == {"policies": []}
    refused = await policies.put("mine", {**TERMS, "tenant_id": "beta"})
    assert refused.status_code == 422 and "tenant_id" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "name"),
        ({"name": "empty", "settings": {"kind": "blocked_terms", "terms": []}}, "at least 1 item"),
        ({"name": "empty", "settings": {"kind": "model_allowlist", "models": []}}, "at least 1 item"),
        ({"name": "regex", "settings": {"kind": "blocked_terms", "terms": ["ok", "(a+)+b"]}}, "terms[1]"),
        ({"name": "regex", "settings": {"kind": "blocked_terms", "terms": ["fal.*con"]}}, "not a literal"),
        (
            {"name": "many", "settings": {"kind": "blocked_terms", "terms": [f"t{n}" for n in range(MAX_TERMS + 1)]}},
            f"at most {MAX_TERMS} items",
        ),
        (
            {"name": "label", "settings": {"kind": "data_classification", "app": "hr", "classification": "secret"}},
            "'public', 'internal', 'confidential' or 'restricted'",
        ),
        ({"name": "twice", "settings": {"kind": "blocked_terms", "terms": ["Falcon", "falcon"]}}, "more than once"),
        ({"name": "kind", "settings": {"kind": "rate_limit"}}, "does not match any of the expected tags"),
        (
            {
                "name": "pii",
                "settings": {
                    "kind": "pii_redaction",
                    "entities": ["email"],
                    "custom_patterns": [{"name": "x", "regex": "(?=a)"}],
                },
            },
            "RE2 refuses",
        ),
        ({"name": "keep", "settings": {"kind": "retention", "dataset": "everything", "days": 30}}, "known: calls"),
        (
            {"name": "keep", "settings": {"kind": "retention", "dataset": "calls", "days": 30, "action": "anonymize"}},
            "not supported",
        ),
    ],
)
async def test_a_bad_policy_answers_422_naming_what_is_wrong(policies: Policies, body: Any, says: str) -> None:
    response = await policies.put("bad", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.text
    assert policies.publisher.of(PolicyPublished) == []


async def test_an_unknown_model_in_an_allowlist_is_fine_and_the_number_of_policies_is_bounded(
    policies: Policies,
) -> None:
    allow = {"name": "allow", "settings": {"kind": "model_allowlist", "models": ["a-model-nobody-serves"]}}
    for n in range(3):
        assert (await policies.put(f"p{n}", allow)).status_code == 201
    over = await policies.put("p3", allow)
    assert over.status_code == 409 and "3 policies" in over.json()["detail"]
    assert (await policies.put("p0", {**allow, "enabled": False})).status_code == 200, "changing one stays possible"


async def test_without_a_caught_up_store_the_api_answers_503() -> None:
    records = [ApiKeyRecord(id="a", tenant_id="acme", role="admin", sha256=hash_key(KEYS["acme-admin"][0]))]
    ports = GovernanceAuditPorts(InMemoryPublisher(), ApiKeyStore(records), policies=PolicyStore())
    app = create_app(GovernanceAuditSettings(), ports=ports)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://governance") as client:
        response = await client.get("/v1/policies", headers=auth("acme-admin"))
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
