"""The prompt HTTP API in a small app: auth (401/403), tenancy, and the 201/200/404/409/422 paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_inference.prompts.router import router
from llmops_inference.prompts.service import PromptRegistry
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.inference.prompts.fakes import app_with, auth, draft, write_keys

BODY = draft(
    ("system", "You answer for {{ shop }}."),
    ("user", "{{ question }}"),
    variables=[{"name": "shop", "default": "Acme"}, {"name": "question"}],
    model="gpt-4o-mini",
)


@pytest.fixture
async def client(tmp_path: Path, registry: PromptRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = app_with(write_keys(tmp_path / "keys.yaml"), prompt_registry=registry)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def create(client: httpx.AsyncClient, name: str = "support-answer", **fields: Any) -> httpx.Response:
    return await client.post(f"/v1/prompts/{name}/versions", json={**BODY, **fields}, headers=auth("admin"))


async def test_create_then_read(client: httpx.AsyncClient, sink: InMemoryPublisher) -> None:
    created = await create(client, labels=["production"])
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["labels"], created.json()["created_by"]) == (
        1,
        ["production"],
        "admin",
    )

    listed = await client.get("/v1/prompts", headers=auth("reader"))
    assert [(p["name"], p["latest_version"], p["labels"]) for p in listed.json()["items"]] == [
        ("support-answer", 1, {"production": 1})
    ]
    detail = await client.get("/v1/prompts/support-answer", headers=auth("reader"))
    assert detail.json()["versions"][0]["version"] == 1
    one = await client.get("/v1/prompts/support-answer/versions/1", headers=auth("writer"))
    assert one.json()["template"][0]["content"] == "You answer for {{ shop }}."


async def test_versions_are_immutable_409_and_retries_are_200(client: httpx.AsyncClient) -> None:
    assert (await create(client, version=1)).status_code == 201
    assert (await create(client, version=1)).status_code == 200
    conflict = await create(client, version=1, model="gpt-4o")
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["code"] == "version_conflict"
    assert conflict.json()["next_version"] == 2


async def test_label_move_rollback_and_diff(client: httpx.AsyncClient) -> None:
    await create(client)
    await create(client, model="gpt-4o")
    admin = auth("admin")

    moved = await client.put("/v1/prompts/support-answer/labels/production", json={"version": 1}, headers=admin)
    assert moved.status_code == 200 and moved.json()["version"] == 1
    moved = await client.put("/v1/prompts/support-answer/labels/production", json={"version": 2}, headers=admin)
    assert (moved.json()["version"], moved.json()["history"]) == (2, [1])

    back = await client.post("/v1/prompts/support-answer/rollback", json={"label": "production"}, headers=admin)
    assert (back.status_code, back.json()["version"], back.json()["history"]) == (200, 1, [])
    again = await client.post("/v1/prompts/support-answer/rollback", json={"label": "production"}, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "label_has_no_history"

    diff = await client.get("/v1/prompts/support-answer/diff", params={"from": "production", "to": "2"}, headers=admin)
    assert diff.status_code == 200
    assert diff.json()["changed"] == ["model"]
    assert "-model: gpt-4o-mini\n+model: gpt-4o" in diff.json()["diff"]


async def test_render_dry_run_and_its_4xx(client: httpx.AsyncClient) -> None:
    await create(client, labels=["production"])
    reader = auth("reader")
    ok = await client.post(
        "/v1/prompts/render", json={"name": "support-answer", "variables": {"question": "Hi"}}, headers=reader
    )
    assert ok.status_code == 200
    assert [m["content"] for m in ok.json()["messages"]] == ["You answer for Acme.", "Hi"]
    assert ok.json()["ref"] == {"name": "support-answer", "version": 1, "label": "production"}

    missing = await client.post("/v1/prompts/render", json={"name": "support-answer"}, headers=reader)
    assert missing.status_code == 422
    assert missing.json()["missing"] == ["question"]
    unknown = await client.post("/v1/prompts/render", json={"name": "nope"}, headers=reader)
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no prompt named 'nope'")


async def test_a_template_the_sandbox_refuses_is_a_422(client: httpx.AsyncClient) -> None:
    await create(client, template=[{"role": "system", "content": "{{ ''.__class__.__mro__ }}"}], variables=[])
    response = await client.post(
        "/v1/prompts/render", json={"name": "support-answer", "version": 1}, headers=auth("reader")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "template_error"
    assert "unsafe" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/prompts", None),
        ("GET", "/v1/prompts/support-answer", None),
        ("POST", "/v1/prompts/support-answer/versions", BODY),
        ("PUT", "/v1/prompts/support-answer/labels/production", {"version": 1}),
        ("POST", "/v1/prompts/support-answer/rollback", {"label": "production"}),
        ("POST", "/v1/prompts/render", {"name": "support-answer"}),
    ],
)
async def test_no_key_is_401(client: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 401
    wrong = await client.request(method, path, json=body, headers={"X-API-Key": "key-unknown"})
    assert wrong.status_code == 401


@pytest.mark.parametrize("key", ["reader", "writer", "ingest"])
async def test_writes_need_admin_403(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/v1/prompts/x/versions", json=BODY, headers=auth(key))
    assert response.status_code == 403
    assert "lacks permission 'admin'" in response.json()["detail"]


async def test_reads_need_calls_read_403(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/prompts", headers=auth("ingest"))).status_code == 403


async def test_the_tenant_is_the_keys_never_the_bodys(client: httpx.AsyncClient) -> None:
    await create(client)
    other = await client.get("/v1/prompts/support-answer", headers=auth("other-admin"))
    assert other.status_code == 404
    assert (await client.get("/v1/prompts", headers=auth("other-admin"))).json() == {"items": []}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/prompts/support-answer/versions", {"template": []}),
        ("/v1/prompts/support-answer/versions", {**BODY, "surprise": 1}),
        ("/v1/prompts/bad name/versions", BODY),
        ("/v1/prompts/support-answer/versions", {**BODY, "variables": []}),
    ],
)
async def test_invalid_bodies_are_422(client: httpx.AsyncClient, path: str, body: Any) -> None:
    response = await client.post(path, json=body, headers=auth("admin"))
    assert response.status_code == 422, response.text


async def test_unknown_version_and_label_are_404(client: httpx.AsyncClient) -> None:
    await create(client)
    admin = auth("admin")
    assert (await client.get("/v1/prompts/support-answer/versions/9", headers=admin)).status_code == 404
    moved = await client.put("/v1/prompts/support-answer/labels/production", json={"version": 9}, headers=admin)
    assert moved.status_code == 404
    back = await client.post("/v1/prompts/support-answer/rollback", json={"label": "qa"}, headers=admin)
    assert back.status_code == 404 and back.json()["code"] == "unknown_label"


async def test_no_registry_on_the_app_is_503(tmp_path: Path) -> None:
    app = app_with(write_keys(tmp_path / "keys.yaml"))
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.get("/v1/prompts", headers=auth("reader"))
    assert response.status_code == 503
