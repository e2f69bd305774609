"""``GET /v1/retention``: the caller's tenant's retention per table, and its refused policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app
from llmops_warehouse.retention.expiry import Retention

from tests.unit.warehouse import test_http_api as api
from tests.unit.warehouse.retention_policies import materialised, retention_policy
from tests.unit.warehouse.test_http_api import TENANT_A, TENANT_B, auth

keys_file = api.keys_file  # the API tests' fixture


@pytest.fixture
async def client(keys_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    policies = materialised(
        retention_policy(TENANT_A, "calls", 30, policy_id="calls-30"),
        retention_policy(TENANT_A, "feedback", 5, action="anonymize", policy_id="anon"),
        retention_policy(TENANT_B, "calls", 7, policy_id="b-calls"),
    )
    ports = WarehousePorts(store=InMemoryEventStore(), retention=Retention(policies, {"feedback": 200}))
    app = create_app(WarehouseSettings(api_keys_file=keys_file), ports=ports)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse") as c,
    ):
        yield c


async def test_the_retention_of_the_caller_s_tenant_per_table(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/retention", headers=auth("reader_a"))
    assert response.status_code == 200, response.text
    body = response.json()
    tables = {row["table"]: row for row in body["tables"]}
    assert body["tenant_id"] == TENANT_A
    assert tables["calls"] == {
        "table": "calls",
        "dataset": "calls",
        "days": 30,
        "source": "policy",
        "policy_id": "calls-30",
    }
    assert (tables["feedback"]["days"], tables["feedback"]["source"]) == (200, "default")  # the policy was refused
    [refused] = body["refused"]
    assert refused["policy_id"] == "anon" and "'anonymize' is not supported" in refused["cause"]


async def test_another_tenant_s_policies_are_not_shown(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/retention", headers=auth("reader_b"))).json()
    assert {r["table"]: r["days"] for r in body["tables"]}["calls"] == 7
    assert body["refused"] == []
