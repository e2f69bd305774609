"""The warehouse's query API in process: the real app and routes over the in-memory store, keys from a file.

The app is built with ``WarehousePorts`` (no Kafka client is created) and its lifespan runs, so the store
and the keys are wired exactly as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from llmops_kit.auth import hash_key
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app

from tests.unit.warehouse.call_store_contract import BASE, make_event

PROBLEM = "application/problem+json"
TENANT_A, TENANT_B = "tenant-a", "tenant-b"
KEYS = {
    "reader_a": ("llmops_reader_key_of_tenant_a_00000000001", TENANT_A, "reader"),
    "reader_b": ("llmops_reader_key_of_tenant_b_00000000001", TENANT_B, "reader"),
    "ingest_a": ("llmops_ingest_key_of_tenant_a_00000000001", TENANT_A, "ingest"),
    "service": ("llmops_service_key_of_the_evaluator_000001", "*", "service"),
}
ROUTES = ["/v1/calls", "/v1/calls/some-call", "/v1/metrics/summary", "/v1/metrics/timeseries"]
WINDOW = {"start": BASE.isoformat(), "end": (BASE + timedelta(hours=1)).isoformat()}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


def iso(value: datetime) -> str:
    """How the API writes a UTC time."""
    return value.isoformat().replace("+00:00", "Z")


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-keys.yaml"
    records = [
        {"id": name, "tenant_id": tenant, "role": role, "sha256": hash_key(key)}
        for name, (key, tenant, role) in KEYS.items()
    ]
    path.write_text(yaml.safe_dump({"keys": records}))
    return path


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
async def client(store: InMemoryEventStore, keys_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(WarehouseSettings(api_keys_file=keys_file), ports=WarehousePorts(store=store))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warehouse") as c,
    ):
        yield c


async def list_all(client: httpx.AsyncClient, key: str = "reader_a", **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/calls", params={"limit": 1000, **params}, headers=auth(key))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- authentication and permissions ---------------------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
async def test_missing_key_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert assert_problem(response, 401)["detail"] == "missing or invalid API key"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ROUTES)
async def test_unknown_key_is_401(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path, headers={"Authorization": "Bearer llmops_not_a_key"}), 401)
    assert_problem(await client.get(path, headers={"X-API-Key": "llmops_not_a_key"}), 401)


@pytest.mark.parametrize(
    ("path", "permission"),
    [(ROUTES[0], "calls:read"), (ROUTES[1], "calls:read"), (ROUTES[2], "metrics:read"), (ROUTES[3], "metrics:read")],
)
async def test_role_without_the_read_permission_is_403(client: httpx.AsyncClient, path: str, permission: str) -> None:
    body = assert_problem(await client.get(path, headers=auth("ingest_a")), 403)
    assert body["detail"] == f"role 'ingest' lacks permission '{permission}'"


async def test_the_x_api_key_header_works_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/calls", headers={"X-API-Key": KEYS["reader_a"][0]})
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


# --- tenant isolation -----------------------------------------------------------------------------


async def test_a_tenant_never_sees_another_tenants_calls(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    store.insert_calls(
        [make_event(TENANT_A, call_id=f"a-{i}", started_at=BASE + timedelta(minutes=i)) for i in range(3)]
    )
    store.insert_calls([make_event(TENANT_B, call_id="b-0", started_at=BASE)])

    assert {c["call_id"] for c in await list_all(client, "reader_a")} == {"a-0", "a-1", "a-2"}
    assert [c["call_id"] for c in await list_all(client, "reader_b")] == ["b-0"]
    assert [c["call_id"] for c in await list_all(client, "reader_b", app="chat", text="hello")] == ["b-0"]

    # Another tenant's call is indistinguishable from a missing one: 404, never 403.
    own = await client.get("/v1/calls/a-1", headers=auth("reader_a"))
    assert own.status_code == 200
    assert (own.json()["tenant_id"], own.json()["call_id"]) == (TENANT_A, "a-1")
    foreign = assert_problem(await client.get("/v1/calls/a-1", headers=auth("reader_b")), 404)
    missing = assert_problem(await client.get("/v1/calls/no-such-call", headers=auth("reader_b")), 404)
    assert foreign["title"] == missing["title"] == "Not Found"

    summary_a = (await client.get("/v1/metrics/summary", params=WINDOW, headers=auth("reader_a"))).json()
    summary_b = (await client.get("/v1/metrics/summary", params=WINDOW, headers=auth("reader_b"))).json()
    assert [r["calls"] for r in summary_a["items"]] == [3]
    assert [r["calls"] for r in summary_b["items"]] == [1]
    series_b = (await client.get("/v1/metrics/timeseries", params=WINDOW, headers=auth("reader_b"))).json()
    assert [(p["bucket_start"], p["calls"]) for p in series_b["items"]] == [(iso(BASE), 1)]


async def test_a_tenant_without_calls_gets_empty_metrics(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    store.insert_calls([make_event(TENANT_A) for _ in range(2)])
    for path in ROUTES[2:]:
        response = await client.get(path, params=WINDOW, headers=auth("reader_b"))
        assert response.status_code == 200
        assert response.json()["items"] == []


# --- listing: filters, search, pagination ---------------------------------------------------------


@pytest.fixture
def varied(store: InMemoryEventStore) -> None:
    """Tenant A's calls differing in every filterable field (one field per call)."""
    base: dict[str, Any] = {"started_at": BASE}
    store.insert_calls(
        [
            make_event(TENANT_A, call_id="plain", **base),
            make_event(TENANT_A, call_id="app", app="search", **base),
            make_event(TENANT_A, call_id="env", environment="staging", **base),
            make_event(TENANT_A, call_id="model", model="claude-3", provider="anthropic", **base),
            make_event(TENANT_A, call_id="status", status="error", **base),
            make_event(TENANT_A, call_id="user", user_id="u-1", **base),
            make_event(TENANT_A, call_id="session", session_id="s-1", **base),
            make_event(TENANT_A, call_id="trace", trace_id="t-1", **base),
            make_event(TENANT_A, call_id="text", content="Where is my PARCEL?", **base),
            make_event(TENANT_A, call_id="late", started_at=BASE + timedelta(hours=2)),
        ]
    )


@pytest.mark.usefixtures("varied")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"app": "search"}, {"app"}),
        ({"environment": "staging"}, {"env"}),
        ({"model": "claude-3"}, {"model"}),
        ({"status": "error"}, {"status"}),
        ({"user_id": "u-1"}, {"user"}),
        ({"session_id": "s-1"}, {"session"}),
        ({"trace_id": "t-1"}, {"trace"}),
        ({"text": "parcel"}, {"text"}),
        ({"text": "general KENOBI", "status": "error"}, {"status"}),
        ({"start": (BASE + timedelta(hours=1)).isoformat()}, {"late"}),
        ({"end": (BASE + timedelta(hours=1)).isoformat(), "app": "chat", "environment": "production"},
         {"plain", "model", "status", "user", "session", "trace", "text"}),
        ({"app": "nope"}, set()),
    ],
)  # fmt: skip
async def test_filters_and_text_search_pass_through(
    client: httpx.AsyncClient, params: dict[str, str], expected: set[str]
) -> None:
    assert {c["call_id"] for c in await list_all(client, **params)} == expected


@pytest.mark.parametrize(("limit", "filters"), [(1, {}), (4, {}), (7, {"status": "ok"}), (100, {})])
async def test_cursor_pagination_visits_every_row_once(
    client: httpx.AsyncClient, store: InMemoryEventStore, limit: int, filters: dict[str, str]
) -> None:
    # Ties on started_at (three calls per second) are broken by event id, so no page boundary loses one.
    events = [
        make_event(TENANT_A, started_at=BASE + timedelta(seconds=i // 3), status="error" if i % 5 == 0 else "ok")
        for i in range(30)
    ]
    store.insert_calls(events)
    store.insert_calls([make_event(TENANT_B, started_at=BASE)])
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit, **filters, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/calls", params=params, headers=auth("reader_a"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    wanted = [e for e in events if not filters or e.data.status == filters["status"]]
    assert sorted(c["event_id"] for c in seen) == sorted(e.id for e in wanted)
    assert pages == -(-len(wanted) // limit)  # the last full page already says there is no next one
    started = [c["started_at"] for c in seen]
    assert started == sorted(started, reverse=True)


@pytest.mark.parametrize("cursor", ["garbage", "eyJub3QiOiJhIGN1cnNvciJ9", "WzEsMSwibm90LWEtdXVpZCJd"])
async def test_invalid_cursor_is_a_400_problem(client: httpx.AsyncClient, cursor: str) -> None:
    body = assert_problem(await client.get("/v1/calls", params={"cursor": cursor}, headers=auth("reader_a")), 400)
    assert body["title"] == "Bad Request"
    assert body["detail"].startswith("invalid cursor")


async def test_unknown_call_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/calls/missing-1", headers=auth("reader_a")), 404)
    assert body["detail"] == "no call with id 'missing-1'"


@pytest.mark.parametrize("call_id", ["order-42:retry/1", "user@example.com/a/b", "v1.2_x"])
async def test_every_valid_call_id_is_reachable(
    client: httpx.AsyncClient, store: InMemoryEventStore, call_id: str
) -> None:
    store.insert_calls([make_event(TENANT_A, call_id=call_id)])
    for path in (f"/v1/calls/{call_id}", f"/v1/calls/{call_id.replace('/', '%2F')}"):
        response = await client.get(path, headers=auth("reader_a"))
        assert response.status_code == 200, response.text
        assert response.json()["call_id"] == call_id


# --- validation: precise 422 problems -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/calls", "/v1/metrics/summary", "/v1/metrics/timeseries"])
@pytest.mark.parametrize("end_offset", [timedelta(0), timedelta(minutes=-5)])
async def test_end_not_after_start_is_422(client: httpx.AsyncClient, path: str, end_offset: timedelta) -> None:
    params = {"start": BASE.isoformat(), "end": (BASE + end_offset).isoformat()}
    body = assert_problem(await client.get(path, params=params, headers=auth("reader_a")), 422)
    assert body["detail"] == "query: end must be after start"
    assert body["errors"] == [{"loc": ["query"], "msg": "end must be after start", "type": "value_error"}]


async def test_too_many_buckets_is_422(client: httpx.AsyncClient) -> None:
    params: dict[str, Any] = {
        "start": BASE.isoformat(),
        "end": (BASE + timedelta(days=2)).isoformat(),
        "step_seconds": 60,
    }
    body = assert_problem(await client.get("/v1/metrics/timeseries", params=params, headers=auth("reader_a")), 422)
    assert body["detail"] == (
        "query: the window holds 2880 buckets of 60s, more than 2000: shorten the window or raise step_seconds"
    )
    params["step_seconds"] = 120
    assert (await client.get("/v1/metrics/timeseries", params=params, headers=auth("reader_a"))).status_code == 200


@pytest.mark.parametrize("step", [61, 90, 3601])
async def test_step_not_a_multiple_of_60_is_422(client: httpx.AsyncClient, step: int) -> None:
    params: dict[str, Any] = {**WINDOW, "step_seconds": step}
    body = assert_problem(await client.get("/v1/metrics/timeseries", params=params, headers=auth("reader_a")), 422)
    assert body["detail"] == "query: step_seconds must be a multiple of 60 (the rollup has minute resolution)"


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/v1/calls", {"limit": 0}, ["query", "limit"]),
        ("/v1/calls", {"limit": 1001}, ["query", "limit"]),
        ("/v1/calls", {"status": "maybe"}, ["query", "status"]),
        ("/v1/calls", {"start": "yesterday"}, ["query", "start"]),
        ("/v1/calls", {"start": "2026-01-01T00:00:00"}, ["query", "start"]),  # no time zone
        ("/v1/calls", {"start": "1700000000"}, ["query", "start"]),  # no Unix timestamps
        ("/v1/metrics/summary", {"end": "2026-01-01"}, ["query", "end"]),  # a date is no date-time
        ("/v1/calls", {"text": ""}, ["query", "text"]),
        ("/v1/metrics/summary", {"group_by": "user"}, ["query", "group_by"]),
        ("/v1/metrics/summary", {"end": "0001-01-01T00:00:00Z"}, ["query", "end"]),
        ("/v1/metrics/summary", {"end": "1900-01-01T00:30:00Z"}, ["query", "start"]),  # default start: end - 1h
        ("/v1/metrics/timeseries", {"start": "9999-12-31T23:59:59Z", "end": "9999-12-31T23:59:59.9Z"},
         ["query", "start"]),
        ("/v1/metrics/timeseries", {"step_seconds": 30}, ["query", "step_seconds"]),
        ("/v1/calls", {"end": "2300-01-01T00:00:00+01:00"}, ["query", "end"]),
    ],
)  # fmt: skip
async def test_invalid_parameters_are_422_problems_naming_the_parameter(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], loc: list[str]
) -> None:
    body = assert_problem(await client.get(path, params=params, headers=auth("reader_a")), 422)
    assert loc in [e["loc"] for e in body["errors"]]


# --- metrics pass through -------------------------------------------------------------------------


async def test_summary_and_timeseries_answer_from_the_store(
    client: httpx.AsyncClient, store: InMemoryEventStore
) -> None:
    store.insert_calls(
        [make_event(TENANT_A, model="m-1", started_at=BASE + timedelta(minutes=i), latency_ms=100.0) for i in range(3)]
        + [make_event(TENANT_A, model="m-2", started_at=BASE + timedelta(minutes=30), status="error")]
    )
    params = {
        "start": (BASE + timedelta(seconds=30)).isoformat(),
        "end": (BASE + timedelta(minutes=59, seconds=1)).isoformat(),
    }
    summary = await client.get("/v1/metrics/summary", params={**params, "group_by": "model"}, headers=auth("reader_a"))
    assert summary.status_code == 200
    body = summary.json()
    # Minute resolution: the window widens to whole minutes.
    assert (body["start"], body["end"]) == (iso(BASE), iso(BASE + timedelta(hours=1)))
    assert [(r["group"], r["calls"], r["errors"], r["total_tokens"]) for r in body["items"]] == [
        ("m-1", 3, 0, 45),
        ("m-2", 1, 1, 15),
    ]
    series = await client.get(
        "/v1/metrics/timeseries", params={**params, "step_seconds": 1800}, headers=auth("reader_a")
    )
    assert series.status_code == 200
    points = series.json()
    assert points["step_seconds"] == 1800
    assert [(p["bucket_start"], p["group"], p["calls"]) for p in points["items"]] == [
        (iso(BASE), None, 3),
        (iso(BASE + timedelta(minutes=30)), None, 1),
    ]


async def test_metrics_default_to_the_last_hour(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/metrics/summary", headers=auth("reader_a"))
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == []
    window = datetime.fromisoformat(body["end"]) - datetime.fromisoformat(body["start"])
    assert window.total_seconds() in (3600, 3660)  # [now - 1h, now) widened to whole minutes
