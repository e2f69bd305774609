"""Privileged reads are on the audit trail before their data is sent (docs/governance.md, "Privileged reads"):
key reads, audit-table reads, tenant keys' reads of stored calls; one entry per query, filter names but never
their values; a read whose entry Kafka does not take is refused (503), and so is one before auditing started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llmops_kit.access_audit import DenialAudit
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import TENANT_HEADER, ApiKeyStore
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import AuditRecorded

from tests.unit.test_route_matrix import key_of, store
from tests.unit.test_service_edges import AppFactory, governance, served, warehouse

ANALYST = {"Authorization": f"Bearer {key_of('alpha', 'analyst')}"}
ADMIN = {"Authorization": f"Bearer {key_of('alpha', 'admin')}"}
SERVICE = {"Authorization": f"Bearer {key_of('any', 'service')}", TENANT_HEADER: "alpha"}


class Idle:
    """A key source that keeps the store as it is (a followed store, for the lifespan)."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def entries(factory: AppFactory, *requests: tuple[str, dict[str, str]]) -> tuple[list[int], list[Any]]:
    """The statuses of ``requests`` (GET path, headers) and the audit entries they left."""
    publisher = InMemoryPublisher()
    app = factory(Path("/nonexistent"), store(DenialAudit(AuditTrail(publisher, source="/tests/reads"))))
    registry = getattr(app.state, "key_registry", None)
    if registry is not None:
        registry._view.mark_caught_up()  # the fake ports' key state: read whole
    async with served(app) as client:
        statuses = [(await client.get(path, headers=headers)).status_code for path, headers in requests]
    return statuses, list(publisher.on(AuditRecorded.topic))


async def test_a_tenant_keys_read_of_stored_calls_is_one_entry_without_filter_values() -> None:
    statuses, audited = await entries(
        warehouse,
        ("/v1/calls?model=gpt-x&text=priya%40example.com", ANALYST),
        ("/v1/calls?cursor=not-issued", ANALYST),  # a later page: the query is recorded already
        ("/v1/events/calls", ANALYST),
        ("/v1/calls", SERVICE),  # a platform service doing its work is not a person reading calls
    )
    assert statuses == [200, 400, 200, 200]
    assert [(e.data.action, e.data.resource.id, e.data.actor.id, e.tenant_id) for e in audited] == [
        ("calls.read", "all", "alpha-analyst", "alpha"),
        ("calls.read", "all", "alpha-analyst", "alpha"),
    ]
    assert audited[0].data.details == {"filters": ["end", "model", "start", "text"]}  # a search's window
    assert "priya" not in json.dumps([e.model_dump(mode="json") for e in audited])


async def test_audit_tables_are_audited_for_every_key_other_tables_are_not() -> None:
    statuses, audited = await entries(
        warehouse,
        ("/v1/events/audit_chain", SERVICE),
        ("/v1/events/api_keys", ANALYST),
        ("/v1/events/feedback", ANALYST),
    )
    assert statuses == [200, 200, 200]
    assert [(e.data.action, e.data.resource.type, e.data.resource.id) for e in audited] == [
        ("audit.read", "table", "audit_chain"),
        ("audit.read", "table", "api_keys"),
    ]


async def test_reading_keys_is_audited() -> None:
    statuses, audited = await entries(governance, ("/v1/keys", ADMIN))
    assert statuses == [200]
    assert [(e.data.action, e.data.outcome, e.data.actor.id) for e in audited] == [
        ("key.list", "success", "alpha-admin")
    ]


@pytest.mark.parametrize("failure", ["kafka-down", "not-started"])
async def test_a_read_that_cannot_be_audited_is_refused(failure: str) -> None:
    publisher = InMemoryPublisher()
    keys: ApiKeyStore = store(DenialAudit(AuditTrail(publisher, source="/tests/reads")))
    if failure == "kafka-down":
        publisher.failure = ConnectionError("broker unreachable")
    else:
        keys.denials, keys.source = None, Idle()  # a followed store whose access trail is not up yet
    async with served(warehouse(Path("/nonexistent"), keys)) as client:
        answer = await client.get("/v1/calls", headers=ANALYST)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "could not be audited" in answer.json()["detail"] and "items" not in answer.json()
