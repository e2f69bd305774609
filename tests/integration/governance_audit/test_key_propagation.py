"""Key state on the real broker: a key created, rotated and revoked through the governance service is accepted
and refused by another service's app (ingest, its own process wiring) within 5 seconds, without a restart; a
refusal lands on llmops.audit.records; a service started later reads the revocation from the compacted topic."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from llmops_governance_audit.bootstrap import create_app as governance_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_ingest.bootstrap import create_app as ingest_app
from llmops_ingest.config import IngestSettings
from llmops_kit.auth import generate_key, hash_key
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import AuditRecorded

from tests.integration.warehouse.test_warehouse_consumer import wait_until

pytestmark = pytest.mark.integration

PROPAGATION_S = 5.0
"""The issue's bound: a change reaches every service within 5 s."""


@asynccontextmanager
async def serve(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}") as client,
    ):
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def accepted(client: httpx.AsyncClient, key: str) -> bool:
    """Whether ingest lets ``key`` past authentication (an empty batch is then refused for itself, not the key)."""
    return (await client.post("/v1/calls", headers=bearer(key), json={"calls": []})).status_code != 401


async def within(condition: Callable[[], Awaitable[bool]], what: str) -> float:
    """Seconds until ``condition`` held; fails past :data:`PROPAGATION_S`."""
    started = time.monotonic()
    await wait_until(condition, what, timeout_s=PROPAGATION_S)
    return time.monotonic() - started


@pytest.fixture
def tenant() -> str:
    return f"keys-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin_key() -> str:
    return generate_key()


@pytest.fixture
def keys_file(tmp_path: Path, tenant: str, admin_key: str) -> Path:
    path = tmp_path / "keys.yaml"
    entry = {"id": f"{tenant}-admin", "tenant_id": tenant, "role": "admin", "sha256": hash_key(admin_key)}
    path.write_text(yaml.safe_dump({"keys": [entry]}))
    return path


async def ready(client: httpx.AsyncClient, key: str) -> None:
    async def answers() -> bool:
        return (await client.get("/readyz", headers=bearer(key))).status_code == 200

    await wait_until(answers, "the service to be ready")


async def test_created_rotated_and_revoked_keys_reach_another_service_within_5_s(
    kafka_bootstrap: str, keys_file: Path, admin_key: str, tenant: str
) -> None:
    governance = governance_app(
        GovernanceAuditSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys_file)
    )
    ingest = ingest_app(IngestSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys_file))
    async with serve(governance, "governance") as keys_api, serve(ingest, "ingest") as other:
        await ready(keys_api, admin_key)
        await ready(other, admin_key)
        created = await keys_api.post("/v1/keys", headers=bearer(admin_key), json={"name": "bot", "role": "developer"})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["key_id"]
        await within(lambda: accepted(other, key), "ingest to accept the new key")

        body = {"grace_s": 3}
        rotated = await keys_api.post(f"/v1/keys/{key_id}/rotate", headers=bearer(admin_key), json=body)
        assert rotated.status_code == 201, rotated.text
        new_key = rotated.json()["key"]
        await within(lambda: accepted(other, new_key), "ingest to accept the rotated key")
        assert await accepted(other, key)  # the old key in its grace period
        await wait_until(lambda: _refused(other, key), "the grace period to end", timeout_s=3 + PROPAGATION_S)

        revoked = await keys_api.delete(f"/v1/keys/{rotated.json()['key_id']}", headers=bearer(admin_key))
        assert revoked.status_code == 200, revoked.text
        took = await within(lambda: _refused(other, new_key), "ingest to refuse the revoked key")
    assert took < PROPAGATION_S


async def _refused(client: httpx.AsyncClient, key: str) -> bool:
    return not await accepted(client, key)


async def test_a_revoked_bootstrap_key_stays_refused_by_a_service_started_later_and_refusals_are_audited(
    kafka_bootstrap: str, keys_file: Path, admin_key: str, tenant: str
) -> None:
    governance = governance_app(
        GovernanceAuditSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys_file)
    )
    async with AsyncExitStack() as stack:
        keys_api = await stack.enter_async_context(serve(governance, "governance"))
        await ready(keys_api, admin_key)
        viewer = await keys_api.post("/v1/keys", headers=bearer(admin_key), json={"name": "dash", "role": "viewer"})
        viewer_key = viewer.json()["key"]
        assert (await keys_api.get("/v1/keys", headers=bearer(viewer_key))).status_code == 403
        assert (await keys_api.delete(f"/v1/keys/{tenant}-admin", headers=bearer(admin_key))).status_code == 200

    # A new process with the same keys file: the file lists the admin key, the topic says it is revoked.
    later = ingest_app(IngestSettings(kafka_bootstrap_servers=kafka_bootstrap, api_keys_file=keys_file))
    async with serve(later, "ingest") as other:
        await ready(other, viewer_key)
        assert not await accepted(other, admin_key)
        assert await accepted(other, viewer_key)  # a known key, whose role may not send calls: 403, audited
    entries = await _audit_entries(kafka_bootstrap, tenant, want=4)
    assert [(e.action, e.outcome) for e in entries] == [
        ("key.create", "success"),
        ("authz.keys:manage", "denied"),
        ("key.revoke", "success"),
        ("authz.calls:write", "denied"),
    ]
    assert entries[1].actor.id == entries[3].actor.id == viewer.json()["key_id"]
    assert viewer_key not in repr(entries)


async def _audit_entries(bootstrap: str, tenant: str, want: int) -> list[AuditRecorded]:
    """The audit entries of ``tenant`` on llmops.audit.records once ``want`` are there, by time."""
    consumer = AIOKafkaConsumer(
        AuditRecorded.topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[AuditRecorded] = []
    try:
        deadline = time.monotonic() + 20
        while len(found) < want and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                events = [parse_event(r.value) for r in batch if r.key == tenant.encode() and r.value]
                found += [e.data for e in events if isinstance(e.data, AuditRecorded)]
    finally:
        await consumer.stop()
    assert len(found) == want, f"found {len(found)} audit entries of {tenant}, expected {want}"
    return sorted(found, key=lambda e: e.occurred_at)
