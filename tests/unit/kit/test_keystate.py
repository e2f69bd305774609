"""Key state in the kit: the store changes in place (expiry, revocation, rotation), the keys topic folds into it,
the fixed roles map to permissions in one place, and refusals are audited without delaying the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from llmops_kit.access_audit import DenialAudit, refuse_owner_fields
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import (
    ApiKeyRecord,
    ApiKeyStore,
    Principal,
    authenticate,
    declares,
    generate_key,
    hash_key,
    permission_of,
    requires,
)
from llmops_kit.http.app import Runtime, create_service_app
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.keystate import KeyStateView
from llmops_kit.roles import ASSIGNABLE_ROLES, LEGACY_ROLES, PERMISSIONS, ROLE_PERMISSIONS, ROLES
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ApiKeyStateChanged
from llmops_schemas.v2 import AuditRecorded

from tests.fixtures.clocks import ManualClock

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = generate_key()


def state(key_id: str = "k-1", key: str = KEY, **changes: object) -> ApiKeyStateChanged:
    fields: dict[str, object] = {
        "key_id": key_id, "name": "bot", "role": "developer", "sha256": hash_key(key), "status": "active",
        "created_at": NOW, "updated_by": "admin", "updated_at": NOW,
    }  # fmt: skip
    return ApiKeyStateChanged.model_validate({**fields, **changes})


def record(tenant: str, data: ApiKeyStateChanged) -> bytes:
    return CloudEvent.wrap(data, source="/test", tenant_id=tenant).to_json_bytes()


def test_every_role_is_mapped_and_every_permission_is_granted_to_some_role() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES)
    assert set().union(*ROLE_PERMISSIONS.values()) == PERMISSIONS
    assert ROLE_PERMISSIONS["admin"] == PERMISSIONS
    assert "keys:manage" not in set().union(*(ROLE_PERMISSIONS[r] for r in ROLES if r != "admin"))
    assert "service" not in ASSIGNABLE_ROLES


@pytest.mark.parametrize(("legacy", "role"), sorted(LEGACY_ROLES.items()))
def test_keys_of_the_former_roles_keep_their_permissions(legacy: str, role: str) -> None:
    former = {"writer": {"calls:write", "calls:read", "metrics:read", "inference:invoke", "feedback:write"},
              "reader": {"calls:read", "metrics:read"}}  # fmt: skip
    entry = ApiKeyRecord(id="old", tenant_id="demo", role=legacy, sha256=hash_key(KEY))  # type: ignore[arg-type]
    assert entry.role == role
    assert ROLE_PERMISSIONS[role] == former[legacy]


def test_a_key_past_its_expiry_is_refused() -> None:
    clock = ManualClock(NOW.timestamp())
    expires = NOW + timedelta(seconds=10)
    entry = ApiKeyRecord(id="k", tenant_id="demo", role="viewer", sha256=hash_key(KEY), expires_at=expires)
    store = ApiKeyStore([entry], clock=clock)
    assert store.authenticate(KEY) is not None
    clock.now += 10
    assert store.authenticate(KEY) is None


def test_the_topic_replaces_a_file_key_of_the_same_id_and_revokes_it() -> None:
    store = ApiKeyStore([ApiKeyRecord(id="k-1", tenant_id="demo", role="admin", sha256=hash_key(KEY))])
    view = KeyStateView(store)
    view.apply_record(b"demo:k-1", record("demo", state(role="viewer")))
    principal = store.authenticate(KEY)
    assert principal is not None and principal.role == "viewer"
    view.apply_record(b"demo:k-1", record("demo", state(status="revoked")))
    assert store.authenticate(KEY) is None
    assert view.find("k-1") == ("demo", state(status="revoked"))


def test_a_rotated_key_is_accepted_until_its_grace_period_ends_and_its_successor_after() -> None:
    clock, new_key = ManualClock(NOW.timestamp()), generate_key()
    store = ApiKeyStore(clock=clock)
    view = KeyStateView(store)
    view.apply_record(b"demo:k-1", record("demo", state()))
    grace_end = NOW + timedelta(seconds=60)
    view.apply_record(b"demo:k-2", record("demo", state("k-2", new_key)))
    view.apply_record(b"demo:k-1", record("demo", state(status="rotated", rotated_to="k-2", expires_at=grace_end)))
    assert store.authenticate(KEY) is not None and store.authenticate(new_key) is not None
    clock.now += 60
    assert store.authenticate(KEY) is None
    assert store.authenticate(new_key) is not None


def test_a_tombstone_removes_the_key_and_a_foreign_record_changes_nothing() -> None:
    store = ApiKeyStore()
    view = KeyStateView(store)
    view.apply_record(b"demo:k-1", record("demo", state()))
    view.apply_record(b"demo:k-1", b"{not json")
    assert store.authenticate(KEY) is not None
    view.apply_record(b"demo:k-1", None)
    assert store.authenticate(KEY) is None
    assert view.of_tenant("demo") == []


def test_keys_are_listed_per_tenant() -> None:
    view = KeyStateView(ApiKeyStore())
    view.put("acme", state("k-a", generate_key()))
    view.put("demo", state("k-d", generate_key()))
    assert [s.key_id for s in view.of_tenant("acme")] == ["k-a"]


# --- declared permissions and audited refusals ---------------------------------------------------------------


def audited_app(store: ApiKeyStore) -> FastAPI:
    async def runtime(app: FastAPI) -> Runtime:
        return Runtime()

    app = create_service_app(service="t", title="t", description="d", version="0", build_runtime=runtime)
    app.state.api_keys = store  # set now: the test client runs no lifespan

    @app.get("/admin-only")
    async def admin_only(caller: Annotated[Principal, Depends(requires("admin"))]) -> dict[str, str]:
        return {"ok": caller.key_id}

    @app.post("/hot", openapi_extra=declares("calls:write"))
    async def hot(request: Request) -> dict[str, str]:
        return {"ok": authenticate(request, "calls:write").key_id}

    async def guarded(request: Request, caller: Annotated[Principal, Depends(requires("calls:write"))]) -> None:
        await refuse_owner_fields(request, caller)

    @app.post("/things", dependencies=[Depends(guarded)])
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_each_route_declares_its_permission_where_permission_of_finds_it() -> None:
    routes = {route.path: route for route in audited_app(ApiKeyStore()).routes}
    assert permission_of(routes["/admin-only"]) == {"admin"}
    assert permission_of(routes["/hot"]) == {"calls:write"}
    assert permission_of(routes["/things"]) == {"calls:write"}
    assert permission_of(routes["/healthz"]) == set()


async def test_a_refusal_is_audited_with_the_key_id_route_and_reason_never_the_key() -> None:
    publisher = InMemoryPublisher()
    audit = DenialAudit(AuditTrail(publisher, source="/services/t"))
    store = ApiKeyStore(
        [ApiKeyRecord(id="dev-1", tenant_id="demo", role="viewer", sha256=hash_key(KEY))], denials=audit
    )
    app = audited_app(store)
    headers = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "req-1"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/admin-only", headers=headers)).status_code == 403
        assert (await client.post("/hot", headers=headers)).status_code == 403
        await audit.drain()
    entries = publisher.of(AuditRecorded)
    assert [(e.outcome, e.action, e.resource.id) for e in entries] == [
        ("denied", "authz.admin", "GET:/admin-only"),
        ("denied", "authz.calls:write", "POST:/hot"),
    ]
    assert entries[0].actor.id == "dev-1" and entries[0].request_id == "req-1"
    assert entries[0].details["reason"] == "role 'viewer' lacks permission 'admin'"
    assert {e.tenant_id for e in publisher.on(AuditRecorded.topic)} == {"demo"}
    assert KEY not in repr([p.value for p in publisher.published])


async def test_a_tenant_or_role_in_a_body_is_refused_and_audited() -> None:
    publisher = InMemoryPublisher()
    audit = DenialAudit(AuditTrail(publisher, source="/services/t"))
    store = ApiKeyStore(
        [ApiKeyRecord(id="dev-1", tenant_id="demo", role="developer", sha256=hash_key(KEY))], denials=audit
    )
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited_app(store)), base_url="http://t") as client:
        refused = await client.post(
            "/things", headers=headers, json={"name": "x", "tenant_id": "acme", "role": "admin"}
        )
        allowed = await client.post("/things", headers=headers, json={"name": "x"})
        await audit.drain()
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("role, tenant_id may not be set in a request body")
    assert allowed.status_code == 200
    assert [e.action for e in publisher.of(AuditRecorded)] == ["request.mass_assignment"]


async def test_refusals_beyond_the_bound_are_dropped_not_queued() -> None:
    publisher = InMemoryPublisher()
    audit = DenialAudit(AuditTrail(publisher, source="/services/t"), max_in_flight=2)
    store = ApiKeyStore([ApiKeyRecord(id="v", tenant_id="demo", role="viewer", sha256=hash_key(KEY))], denials=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited_app(store)), base_url="http://t") as client:
        for _ in range(3):  # the entries cannot be published before the event loop runs them: 2 wait, 1 is dropped
            store.denials.denied(
                Principal(key_id="v", tenant_id="demo", role="viewer"), _request(), action="a", reason="r"
            )
        await audit.drain()
        assert (await client.get("/admin-only", headers={"Authorization": f"Bearer {KEY}"})).status_code == 403
        await audit.drain()
    assert len(publisher.of(AuditRecorded)) == 3


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""})


async def test_an_audit_that_kafka_refuses_does_not_change_the_answer() -> None:
    publisher = InMemoryPublisher()
    publisher.failure = ConnectionError("down")
    audit = DenialAudit(AuditTrail(publisher, source="/services/t"))
    store = ApiKeyStore([ApiKeyRecord(id="v", tenant_id="demo", role="viewer", sha256=hash_key(KEY))], denials=audit)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audited_app(store)), base_url="http://t") as client:
        response = await client.get("/admin-only", headers={"Authorization": f"Bearer {KEY}"})
        await audit.drain()
    assert response.status_code == 403
