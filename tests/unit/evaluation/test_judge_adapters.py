"""The judges' adapters over the kit's clients: a rubric label's version is kept a while, and a stored call
from the warehouse's API is read back as the call event it was."""

from __future__ import annotations

import json

import httpx
from llmops_evaluation.judges.adapters import GatewayJudges, WarehouseCalls
from llmops_kit.platform_client import GatewayClient, PlatformClient, WarehouseReader

from tests.unit.evaluation.calls import call

DETAIL = {"name": "grader", "latest_version": 3, "labels": [{"label": "production", "version": 2}], "versions": []}


async def test_a_label_is_resolved_once_per_ttl_and_names_the_tenant() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json=DETAIL) if request.url.path == "/v1/prompts/grader" else httpx.Response(404)

    client = PlatformClient("gateway", "http://gateway", "key", transport=httpx.MockTransport(answer))
    await client.start()
    judges = GatewayJudges(GatewayClient(client), label_ttl_s=60)
    assert [await judges.prompt_version("acme", "grader", "production") for _ in range(3)] == [2, 2, 2]
    assert await judges.prompt_version("acme", "grader", "latest") == 3
    assert await judges.prompt_version("acme", "missing", "production") is None
    await client.stop()
    assert len(asked) == 3  # production once, latest once, the missing prompt once
    assert {r.headers["X-LLMOps-Tenant"] for r in asked} == {"acme"}


async def test_a_stored_call_reads_back_as_its_event() -> None:
    original = call("acme", call_id="primary-1", output="At the depot.")
    row = {
        **json.loads(original.data.model_dump_json()),
        "event_id": original.id,
        "tenant_id": "acme",
        "output": "At the depot.",
        "finish_reason": "stop",
        "source": "/services/inference",
        "received_at": "2026-03-14T09:26:53Z",
        "ingested_at": "2026-03-14T09:26:54Z",
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=row) if request.url.path.endswith("primary-1") else httpx.Response(404)

    client = PlatformClient("warehouse", "http://warehouse", "key", transport=httpx.MockTransport(answer))
    await client.start()
    calls = WarehouseCalls(WarehouseReader(client))
    assert await calls.call("acme", "primary-1") == original.data
    assert await calls.call("acme", "other") is None
    await client.stop()
