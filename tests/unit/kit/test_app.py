"""The service app factory: probes, metrics by route template, problem details, component lifecycle."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, generate_key, hash_key
from llmops_kit.http import app as app_module
from llmops_kit.http.app import ReadinessCheck, Runtime, create_service_app
from llmops_kit.http.problems import PROBLEM_JSON, ProblemError
from prometheus_client import REGISTRY


def make_app(
    *,
    service: str | None = None,
    checks: dict[str, ReadinessCheck] | None = None,
    components: list[Any] | None = None,
    on_build: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    async def build_runtime(app: FastAPI) -> Runtime:
        if on_build:
            on_build(app)
        return Runtime(components=list(components or []), checks=dict(checks or {}))

    app = create_service_app(
        service=service or f"svc-{uuid.uuid4().hex[:8]}",
        title="test",
        description="test service",
        version="0.0.0",
        build_runtime=build_runtime,
    )
    app.state.api_keys = KEYS

    @app.get("/items/{item_id}")
    async def get_item(item_id: int, verbose: bool = False) -> dict[str, Any]:
        return {"item_id": item_id, "verbose": verbose}

    @app.post("/conflict")
    async def conflict() -> None:
        raise ProblemError(409, "Conflict", "call c-1 already exists", call_id="c-1")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return app


READER_KEY, OTHER_TENANT_KEY = generate_key(), generate_key()
KEYS = ApiKeyStore(
    [
        ApiKeyRecord(id="reader", tenant_id="acme", role="reader", sha256=hash_key(READER_KEY)),
        ApiKeyRecord(id="writer", tenant_id="globex", role="writer", sha256=hash_key(OTHER_TENANT_KEY)),
    ]
)
KEYED = {"Authorization": f"Bearer {READER_KEY}"}
"""Headers of a valid key: ``/readyz`` shows its per-check details only to a caller with one."""


def check(result: bool) -> ReadinessCheck:
    async def run() -> bool:
        return result

    return run


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert "detail" in body
    return body


# --- probes --------------------------------------------------------------------------------------


def test_healthz_is_200() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_is_503_while_the_runtime_reports_something_stuck_and_says_why_only_to_a_key() -> None:
    reason = "table recovery read nothing for 300 s"
    state: dict[str, str | None] = {"stuck": reason}

    async def build_runtime(app: FastAPI) -> Runtime:
        return Runtime(checks={"kafka": check(True)}, liveness=lambda: state["stuck"])

    app = create_service_app(service="svc", title="t", description="d", version="0", build_runtime=build_runtime)
    app.state.api_keys = KEYS
    with TestClient(app) as client:
        keyed, anonymous = client.get("/healthz", headers=KEYED), client.get("/healthz")
        state["stuck"] = None
        recovered = client.get("/healthz")
    assert (keyed.status_code, keyed.json()) == (503, {"status": "stuck", "reason": reason})
    assert (anonymous.status_code, anonymous.json()) == (503, {"status": "stuck"})
    assert (recovered.status_code, recovered.json()) == (200, {"status": "ok"})


def test_readyz_is_200_when_every_check_passes() -> None:
    with TestClient(make_app(checks={"kafka": check(True), "clickhouse": check(True)})) as client:
        response = client.get("/readyz", headers=KEYED)
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"kafka": True, "clickhouse": True}}


@pytest.mark.parametrize("ready", [True, False])
def test_a_runtime_readiness_overrides_the_checks_and_keeps_the_one_route(ready: bool) -> None:
    async def readiness() -> tuple[bool, dict[str, Any]]:
        return ready, {"ready": ready, "upstreams": {"a": ready}}

    async def build_runtime(app: FastAPI) -> Runtime:
        return Runtime(checks={"kafka": check(False)}, readiness=readiness)

    app = create_service_app(service="svc", title="t", description="d", version="0", build_runtime=build_runtime)
    app.state.api_keys = KEYS
    with TestClient(app) as client:
        response = client.get("/readyz", headers=KEYED)
    assert response.status_code == (200 if ready else 503)
    assert response.json() == {"ready": ready, "upstreams": {"a": ready}}
    assert [getattr(r, "path", None) for r in app.router.routes].count("/readyz") == 1


def test_readyz_is_503_when_a_check_fails() -> None:
    with TestClient(make_app(checks={"kafka": check(True), "clickhouse": check(False)})) as client:
        response = client.get("/readyz", headers=KEYED)
    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"kafka": True, "clickhouse": False}}


def test_readyz_is_503_when_a_check_raises() -> None:
    async def broken() -> bool:
        raise ConnectionError("refused")

    with TestClient(make_app(checks={"kafka": check(True), "db": broken})) as client:
        response = client.get("/readyz", headers=KEYED)
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": True, "db": False}


def test_readyz_is_503_when_a_check_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "_bounded", functools.partial(app_module._bounded, timeout_s=0.2))
    cancelled: list[bool] = []

    async def hangs() -> bool:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return True

    with TestClient(make_app(checks={"kafka": check(True), "db": hangs})) as client:
        response = client.get("/readyz", headers=KEYED)
    assert response.status_code == 503
    assert response.json()["checks"] == {"kafka": True, "db": False}
    assert cancelled == [True]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer llmops_not_a_key"}, {"X-API-Key": "wrong"}, {"Authorization": "Basic abc"}],
)
def test_readyz_without_a_valid_key_says_only_whether_it_is_ready(headers: dict[str, str]) -> None:
    with TestClient(make_app(checks={"kafka": check(True), "clickhouse": check(False)})) as client:
        response = client.get("/readyz", headers=headers)
    assert (response.status_code, response.json()) == (503, {"ready": False})


@pytest.mark.parametrize("headers", [KEYED, {"X-API-Key": OTHER_TENANT_KEY}])
def test_readyz_details_need_any_valid_key(headers: dict[str, str]) -> None:
    with TestClient(make_app(checks={"kafka": check(True)})) as client:
        response = client.get("/readyz", headers=headers)
    assert (response.status_code, response.json()) == (200, {"ready": True, "checks": {"kafka": True}})


def test_readyz_default_bound_is_a_few_seconds() -> None:
    # The real bound (not patched): long enough for a slow broker, short enough for a probe.
    assert app_module._bounded.__defaults__ is not None
    assert 0 < app_module._bounded.__defaults__[0] <= 5


def test_readyz_is_503_before_the_lifespan_started() -> None:
    client = TestClient(make_app(checks={"kafka": check(True)}))  # no `with`: no lifespan
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["ready"] is False


# --- metrics -------------------------------------------------------------------------------------


def duration_count(service: str, route: str, status: str, method: str = "GET") -> float:
    labels = {"service": service, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("llmops_http_request_duration_seconds_count", labels) or 0.0


def test_metrics_expose_request_durations_by_route_template() -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    with TestClient(make_app(service=service)) as client:
        assert client.get("/items/41").status_code == 200
        assert client.get("/items/42").status_code == 200
        assert client.get("/items/not-a-number").status_code == 422
        assert client.get("/nowhere/8c1f").status_code == 404
        metrics = client.get("/metrics")

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert "llmops_http_request_duration_seconds_bucket" in text
    ours = [line for line in text.splitlines() if f'service="{service}"' in line]
    assert any('route="/items/{item_id}"' in line for line in ours)
    # Raw paths never become label values (bounded cardinality).
    assert not any("/items/41" in line or "/items/42" in line or "8c1f" in line for line in ours)
    assert duration_count(service, "/items/{item_id}", "200") == 2
    assert duration_count(service, "/items/{item_id}", "422") == 1
    assert duration_count(service, "/nowhere/8c1f", "404") == 0


def test_unhandled_errors_are_counted_as_500() -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    with TestClient(make_app(service=service), raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    assert duration_count(service, "/boom", "500") == 1


# --- problem details -----------------------------------------------------------------------------


def test_unknown_route_is_a_404_problem() -> None:
    with TestClient(make_app()) as client:
        body = assert_problem(client.get("/nowhere"), 404)
    assert body["title"] == "Not Found"


def test_wrong_method_is_a_405_problem() -> None:
    with TestClient(make_app()) as client:
        body = assert_problem(client.delete("/healthz"), 405)
    assert body["title"] == "Method Not Allowed"


def test_invalid_request_is_a_422_problem_listing_the_errors_without_echoing_input() -> None:
    with TestClient(make_app()) as client:
        body = assert_problem(client.get("/items/abc", params={"verbose": "password=hunter2"}), 422)
    assert body["title"] == "Unprocessable Content"
    locations = sorted(tuple(e["loc"]) for e in body["errors"])
    assert locations == [("path", "item_id"), ("query", "verbose")]
    assert all(e["msg"] and e["type"] for e in body["errors"])
    assert "hunter2" not in str(body)


def test_problem_error_becomes_a_problem_document_with_extensions() -> None:
    with TestClient(make_app()) as client:
        body = assert_problem(client.post("/conflict"), 409)
    assert body == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "call c-1 already exists",
        "call_id": "c-1",
    }


def test_unhandled_error_is_a_500_problem_that_hides_the_internals() -> None:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "secret internals" not in response.text
    assert body["title"] == "Internal Server Error"


# --- lifecycle -----------------------------------------------------------------------------------


class Recorder:
    """A component that records its start/stop in a shared journal."""

    def __init__(self, name: str, journal: list[str], *, fail_start: bool = False, fail_stop: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start
        self.fail_stop = fail_stop

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fail_start:
            raise ConnectionError(f"{self.name} cannot start")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        if self.fail_stop:
            raise ConnectionError(f"{self.name} cannot stop cleanly")


def test_lifespan_builds_the_runtime_and_starts_components_in_order_then_stops_in_reverse() -> None:
    journal: list[str] = []
    components = [Recorder("kafka", journal), Recorder("store", journal), Recorder("consumer", journal)]
    app = make_app(components=components, on_build=lambda _: journal.append("build"))
    assert journal == []  # nothing happens at creation (import) time

    with TestClient(app) as client:
        assert journal == ["build", "start kafka", "start store", "start consumer"]
        assert isinstance(app.state.runtime, Runtime)
        assert client.get("/healthz").status_code == 200
    assert journal[4:] == ["stop consumer", "stop store", "stop kafka"]


def test_a_failing_start_stops_the_started_components_in_reverse() -> None:
    journal: list[str] = []
    components = [
        Recorder("kafka", journal),
        Recorder("store", journal),
        Recorder("consumer", journal, fail_start=True),
        Recorder("never", journal),
    ]
    with pytest.raises(ConnectionError, match="consumer cannot start"), TestClient(make_app(components=components)):
        pass
    assert journal == ["start kafka", "start store", "start consumer", "stop store", "stop kafka"]


def test_a_failing_stop_does_not_keep_the_others_from_stopping() -> None:
    journal: list[str] = []
    components = [
        Recorder("kafka", journal),
        Recorder("store", journal, fail_stop=True),
        Recorder("consumer", journal),
    ]
    app = make_app(components=components)
    with TestClient(app):
        pass
    assert journal == ["start kafka", "start store", "start consumer", "stop consumer", "stop store", "stop kafka"]


def test_readiness_checks_run_against_the_started_runtime() -> None:
    state = {"up": False}

    async def dependency() -> bool:
        return state["up"]

    checks: dict[str, Callable[[], Awaitable[bool]]] = {"dependency": dependency}
    with TestClient(make_app(checks=checks)) as client:
        assert client.get("/readyz").status_code == 503
        state["up"] = True
        assert client.get("/readyz").status_code == 200
