"""`llmops audit explain`: what was in force at a call's moment, read through the warehouse's real read API (over
its in-memory store), with changes before and after the call so that "as of the call" is what is tested."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from llmops_cli.audit_explain import explain
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent, EventPayload
from llmops_schemas.registry import record_key
from llmops_schemas.v1 import ExperimentConfigured, PromptLabelMoved, PromptVersionPublished
from llmops_schemas.v1 import PolicyPublished as PolicyV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import AuditRecorded, PolicyPublished
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.tables import TABLES, table_for_type

from tests.unit.warehouse.call_store_contract import make_event

TENANT = "acme"
KEY = "llmops_explain_service_key_00000000000000"
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
CALL_AT = T0 + timedelta(hours=2)
BEFORE, AFTER = CALL_AT - timedelta(hours=1), CALL_AT + timedelta(hours=1)


def stored(payload: EventPayload, at: datetime) -> StoredEvent:
    event = CloudEvent.wrap(payload, source="/tests", tenant_id=TENANT).model_copy(update={"time": at})
    table = table_for_type(TABLES, payload.event_type)
    assert table is not None
    return StoredEvent.of(table.name, event, record_key(event).decode())


def tombstone(table: str, event_type: str, key: str, at: datetime) -> StoredEvent:
    return StoredEvent(table=table, event_id=uuid.uuid4(), tenant_id=TENANT, event_type=event_type,
                       time_ms=int(at.timestamp() * 1000), record_key=f"{TENANT}:{key}")  # fmt: skip


def experiment(version: int, weights: tuple[float, float]) -> ExperimentConfigured:
    base = example(ExperimentConfigured)
    variants = [v.model_copy(update={"weight": w}) for v, w in zip(base.variants, weights, strict=True)]
    return base.model_copy(update={"version": version, "variants": variants})


def key_change(action: str) -> AuditRecorded:
    key = {"type": "api_key", "id": "key-support"}
    return AuditRecorded(actor={"type": "api_key", "id": "admin-1"}, action=action, resource=key, outcome="success",
                         occurred_at=T0)  # fmt: skip


@pytest.fixture
async def reader() -> AsyncIterator[WarehouseReader]:
    store = InMemoryEventStore()
    prompt, label = example(PromptVersionPublished), example(PromptLabelMoved)
    policy, terms = PolicyPublished.from_v1(example(PolicyV1)), example(PolicyPublished)
    store.insert_events([
        stored(prompt, T0), stored(prompt.model_copy(update={"version": 4}), AFTER),
        stored(label.model_copy(update={"version": 2, "history": [1]}), T0), stored(label, BEFORE),
        stored(label.model_copy(update={"version": 4, "history": [1, 2, 3]}), AFTER),
        stored(experiment(1, (0.5, 0.5)), T0), stored(experiment(2, (0.9, 0.1)), BEFORE),
        stored(experiment(3, (0.0, 1.0)), AFTER),
        stored(policy, T0), stored(policy.model_copy(update={"version": 2}), AFTER),
        stored(policy.model_copy(update={"policy_id": "retired"}), T0),
        tombstone("policies", PolicyPublished.event_type, "retired", BEFORE),
        stored(terms, BEFORE), stored(terms.model_copy(update={"version": 3, "enabled": False}), AFTER),
        stored(terms.model_copy(update={"policy_id": "chat-terms", "settings": terms.settings.model_copy(
            update={"app": "chat"})}), BEFORE),
        stored(key_change("api_key.create"), T0), stored(key_change("api_key.revoke"), AFTER),
    ])  # fmt: skip
    call = make_event(TENANT, started_at=CALL_AT, call_id="call-1", key_id="key-support",
                      prompt={"name": prompt.name, "version": 3, "label": "production"},
                      experiment={"experiment_id": "exp-mini-vs-4o", "variant": "mini"})  # fmt: skip
    store.insert_calls([call])
    keys = ApiKeyStore([ApiKeyRecord(id="svc", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(KEY))])
    app = create_app(WarehouseSettings(api_keys_file=None), ports=WarehousePorts(store, keys))
    async with app.router.lifespan_context(app):
        client = PlatformClient("warehouse", "http://warehouse", KEY, transport=httpx.ASGITransport(app=app))
        warehouse = WarehouseReader(client)
        await warehouse.start()
        yield warehouse
        await warehouse.stop()


async def test_the_call_is_explained_as_of_its_moment(reader: WarehouseReader) -> None:
    found = await explain(reader, TENANT, "call-1")
    assert found is not None
    explained: dict[str, Any] = found.as_json()
    assert explained["prompt_version"]["version"] == 3
    assert explained["prompt_labels"] == {"production": 3}, "the label's move after the call does not count"
    assert explained["experiment"]["version"] == 2
    assert explained["experiment"]["weights"] == {"mini": 0.9, "full": 0.1}
    assert explained["experiment"]["variant"] == "mini"
    in_force = sorted((p["policy_id"], p["version"], p["applies_to_call"]) for p in explained["policies"])
    assert in_force == [("chat-terms", 2, True), ("pii-default", 1, True), ("support-bot-terms", 2, False)], (
        "the policies as they were (gateway policies included, marked whether they covered the call's app 'chat'),"
        " and not the one deleted before the call"
    )
    terms = next(p for p in explained["policies"] if p["kind"] == "blocked_terms")
    assert terms["settings"]["terms"] == ["project falcon", "bluebird"]
    assert explained["key"]["key_id"] == "key-support"
    assert [c["action"] for c in explained["key"]["changes"]] == ["api_key.create"]
    assert explained["truncated"] == []


async def test_an_unknown_call_is_none(reader: WarehouseReader) -> None:
    assert await explain(reader, TENANT, "call-404") is None
