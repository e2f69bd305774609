"""The keys API: a key is shown once and stored as a digest, with its audit entry; rotation keeps the old key for
its grace period; revocation is immediate here (and on the topic for every other service); other tenants' ids,
a tenant in a body and a role the caller may not give are refused, and each refusal is audited."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.keystate import KeyStateView
from llmops_schemas.v1 import ApiKeyStateChanged
from llmops_schemas.v2 import AuditRecorded

from tests.unit.governance_audit.conftest import KEYS, Service, auth


def audit_actions(publisher: InMemoryPublisher) -> list[tuple[str, str, str]]:
    """The entries of changes and refusals (reads of keys are audited too: tests/unit/test_privileged_reads.py)."""
    reads = {("key.read", "success"), ("key.list", "success")}
    return [
        (e.action, e.outcome, e.resource.id) for e in publisher.of(AuditRecorded) if (e.action, e.outcome) not in reads
    ]


async def test_a_created_key_is_shown_once_stored_as_a_digest_and_works(service: Service) -> None:
    response = await service.client.post(
        "/v1/keys", headers=auth("acme-admin"), json={"name": "bot", "role": "analyst"}
    )

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    key = created.pop("key")
    assert key.startswith("llmops_")
    assert created["role"] == "analyst" and created["status"] == "active" and created["source"] == "api"
    expires = datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(created["created_at"])
    assert expires == timedelta(days=90)  # the default lifetime
    (state,) = service.publisher.of(ApiKeyStateChanged)
    assert state.key_id == created["key_id"] and state.sha256 != key and len(state.sha256) == 64
    assert key not in repr([p.value for p in service.publisher.published])
    principal = service.store.authenticate(key)
    assert principal is not None and (principal.tenant_id, principal.role) == ("acme", "analyst")
    assert audit_actions(service.publisher) == [("key.create", "success", created["key_id"])]
    listed = (await service.client.get("/v1/keys", headers=auth("acme-admin"))).json()["keys"]
    assert created["key_id"] in {k["key_id"] for k in listed}
    assert all("key" not in k and "sha256" not in k for k in listed)


async def test_the_list_holds_the_tenants_bootstrap_keys_and_no_other_tenants(service: Service) -> None:
    listed = (await service.client.get("/v1/keys", headers=auth("beta-admin"))).json()["keys"]
    assert [(k["key_id"], k["source"]) for k in listed] == [("beta-admin", "file")]


async def test_rotation_keeps_the_old_key_for_the_grace_period(service: Service) -> None:
    created = (
        await service.client.post("/v1/keys", headers=auth("acme-admin"), json={"name": "b", "role": "viewer"})
    ).json()
    rotated = await service.client.post(
        f"/v1/keys/{created['key_id']}/rotate", headers=auth("acme-admin"), json={"grace_s": 30}
    )

    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert service.store.authenticate(new["key"]) is not None
    assert service.store.authenticate(created["key"]) is not None  # still valid: in its grace period
    old = (await service.client.get(f"/v1/keys/{created['key_id']}", headers=auth("acme-admin"))).json()
    assert (old["status"], old["rotated_to"]) == ("rotated", new["key_id"])
    grace = datetime.fromisoformat(old["expires_at"]) - datetime.fromisoformat(new["created_at"])
    assert grace == timedelta(seconds=30)
    assert audit_actions(service.publisher)[-1] == ("key.rotate", "success", created["key_id"])
    again = await service.client.post(f"/v1/keys/{created['key_id']}/rotate", headers=auth("acme-admin"))
    assert again.status_code == 409


async def test_a_rotation_without_a_body_uses_the_default_grace_and_a_too_long_one_is_refused(service: Service) -> None:
    created = (
        await service.client.post("/v1/keys", headers=auth("acme-admin"), json={"name": "b", "role": "viewer"})
    ).json()
    too_long = await service.client.post(
        f"/v1/keys/{created['key_id']}/rotate", headers=auth("acme-admin"), json={"grace_s": 8 * 86_400}
    )
    assert too_long.status_code == 422
    assert "grace_s is at most 604800" in too_long.json()["detail"]
    rotated = await service.client.post(f"/v1/keys/{created['key_id']}/rotate", headers=auth("acme-admin"))
    assert rotated.status_code == 201


async def test_revocation_takes_effect_at_once_and_a_bootstrap_key_can_be_revoked(service: Service) -> None:
    dev_key = KEYS["acme-dev"][0]
    response = await service.client.delete("/v1/keys/acme-dev", headers=auth("acme-admin"))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked"
    assert service.store.authenticate(dev_key) is None
    (state,) = service.publisher.of(ApiKeyStateChanged)
    assert (state.key_id, state.status, state.role) == ("acme-dev", "revoked", "developer")
    assert (await service.client.get("/v1/keys", headers={"Authorization": f"Bearer {dev_key}"})).status_code == 401
    again = await service.client.delete("/v1/keys/acme-dev", headers=auth("acme-admin"))
    assert again.status_code == 200 and len(service.publisher.of(ApiKeyStateChanged)) == 1  # idempotent


async def test_another_tenants_key_is_404_like_an_unknown_one_and_the_attempt_is_audited(service: Service) -> None:
    for method, path in (("GET", "/v1/keys/beta-admin"), ("DELETE", "/v1/keys/beta-admin"),
                         ("POST", "/v1/keys/beta-admin/rotate")):  # fmt: skip
        response = await service.client.request(method, path, headers=auth("acme-admin"))
        unknown = await service.client.request(method, path.replace("beta-admin", "nobody"), headers=auth("acme-admin"))
        assert response.status_code == unknown.status_code == 404
        assert response.json()["detail"] == "no key 'beta-admin'"
    await service.audit.drain()
    assert service.store.authenticate(KEYS["beta-admin"][0]) is not None
    assert [a for a in audit_actions(service.publisher)] == [
        ("key.read", "denied", "GET:/v1/keys/-key_id-"),
        ("key.revoke", "denied", "DELETE:/v1/keys/-key_id-"),
        ("key.rotate", "denied", "POST:/v1/keys/-key_id-/rotate"),
    ]
    assert {e.tenant_id for e in service.publisher.on(AuditRecorded.topic)} == {"acme"}


async def test_a_tenant_in_the_body_is_refused_and_audited(service: Service) -> None:
    body = {"name": "x", "role": "viewer", "tenant_id": "beta"}
    response = await service.client.post("/v1/keys", headers=auth("acme-admin"), json=body)
    rotate = await service.client.post("/v1/keys/acme-dev/rotate", headers=auth("acme-admin"), json={"role": "admin"})
    await service.audit.drain()

    assert response.status_code == 422
    assert (
        response.json()["detail"]
        == "tenant_id may not be set in a request body: the API key decides whose and what it is"
    )
    assert rotate.status_code == 422
    assert service.publisher.of(ApiKeyStateChanged) == []
    assert [a[:2] for a in audit_actions(service.publisher)] == [("request.mass_assignment", "denied")] * 2


async def test_a_service_role_cannot_be_given_and_only_admins_manage_keys(service: Service) -> None:
    service_key = await service.client.post(
        "/v1/keys", headers=auth("acme-admin"), json={"name": "x", "role": "service"}
    )
    by_developer = await service.client.post("/v1/keys", headers=auth("acme-dev"), json={"name": "x", "role": "admin"})
    await service.audit.drain()

    assert service_key.status_code == 422
    assert by_developer.status_code == 403
    assert audit_actions(service.publisher) == [("authz.keys:manage", "denied", "POST:/v1/keys")]


async def test_lifetimes_are_bounded(service: Service) -> None:
    too_long = await service.client.post(
        "/v1/keys", headers=auth("acme-admin"), json={"name": "x", "role": "viewer", "expires_in_s": 401 * 86_400}
    )
    too_short = await service.client.post(
        "/v1/keys", headers=auth("acme-admin"), json={"name": "x", "role": "viewer", "expires_in_s": 5}
    )
    assert too_long.status_code == too_short.status_code == 422


async def test_writes_wait_for_the_key_state_and_kafka(service: Service) -> None:
    service.publisher.failure = ConnectionError("Kafka is down")
    down = await service.client.post("/v1/keys", headers=auth("acme-admin"), json={"name": "x", "role": "viewer"})
    assert down.status_code == 503 and down.headers["retry-after"] == "5"
    assert service.store.authenticate(KEYS["acme-dev"][0]) is not None
    revoked = await service.client.delete("/v1/keys/acme-dev", headers=auth("acme-admin"))
    assert revoked.status_code == 503
    assert service.store.authenticate(KEYS["acme-dev"][0]) is not None  # not revoked here unless Kafka took it


async def test_until_the_key_state_is_read_the_api_answers_503_and_the_count_of_keys_is_bounded() -> None:
    key, tenant, role = KEYS["acme-admin"]
    store = ApiKeyStore([ApiKeyRecord(id="a", tenant_id=tenant, role=role, sha256=hash_key(key))])  # type: ignore[arg-type]
    view = KeyStateView(store)
    app = create_app(
        GovernanceAuditSettings(max_keys_per_tenant=1),
        ports=GovernanceAuditPorts(InMemoryPublisher(), store, key_state=view),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
        loading = await client.get("/v1/keys", headers=auth("acme-admin"))
        view.mark_caught_up()
        first = await client.post("/v1/keys", headers=auth("acme-admin"), json={"name": "x", "role": "viewer"})
        second = await client.post("/v1/keys", headers=auth("acme-admin"), json={"name": "y", "role": "viewer"})
    assert loading.status_code == 503 and loading.json()["detail"] == "the key state is still loading"
    assert first.status_code == 201
    assert second.status_code == 409
