"""What every service does the same way at its HTTP edge, checked on each service's real app.

* A body over the service's limit is refused with 413 before authentication or any parsing, on every
  route: by ``Content-Length`` at once, or while a chunked body streams (defect 3.1: the gateway's prompt
  and experiment routes parsed bodies of any size before they checked the key).
* Without ``LLMOPS_API_KEYS_FILE`` a service starts, its authenticated routes answer 503 and ``/readyz``
  answers 503 (``{"ready": false}``: no key can be valid, so nobody sees the details).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from llmops_alerting.bootstrap import AlertingPorts
from llmops_alerting.bootstrap import create_app as alerting_app
from llmops_alerting.config import AlertingSettings
from llmops_cost.bootstrap import CostPorts
from llmops_cost.bootstrap import create_app as cost_app
from llmops_cost.config import CostSettings
from llmops_drift_detection.bootstrap import create_app as drift_detection_app
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_evaluation.bootstrap import EvaluationPorts
from llmops_evaluation.bootstrap import create_app as evaluation_app
from llmops_evaluation.config import EvaluationSettings
from llmops_feedback.bootstrap import FeedbackPorts
from llmops_feedback.bootstrap import create_app as feedback_app
from llmops_feedback.config import FeedbackSettings
from llmops_governance_audit.bootstrap import GovernanceAuditPorts
from llmops_governance_audit.bootstrap import create_app as governance_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.adapters.registries import Registries
from llmops_inference.bootstrap import InferencePorts
from llmops_inference.bootstrap import create_app as gateway_app
from llmops_inference.config import InferenceSettings
from llmops_inference.routing_table import RoutingTable
from llmops_ingest.bootstrap import IngestPorts
from llmops_ingest.bootstrap import create_app as ingest_app
from llmops_ingest.config import IngestSettings
from llmops_kit.auth import ApiKeyStore
from llmops_kit.http.body_limit import DEFAULT_MAX_BODY_BYTES
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

LIMIT = 64 * 1024
ROUTES = {
    "upstreams": [{"name": "up", "base_url": "http://up.invalid/v1"}],
    "models": {"m": [{"backend": "openai", "upstream": "up", "model": "m"}]},
}

AppFactory = Callable[[Path, ApiKeyStore | None], FastAPI]


def ingest(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    return ingest_app(IngestSettings(max_body_bytes=LIMIT), ports=IngestPorts(InMemoryPublisher(), keys))


def feedback(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    return feedback_app(FeedbackSettings(max_body_bytes=LIMIT), ports=FeedbackPorts(InMemoryPublisher(), keys))


def gateway(tmp_path: Path, keys: ApiKeyStore | None) -> FastAPI:
    table = RoutingTable.model_validate(ROUTES)
    ports = InferencePorts(
        api_keys=keys,
        table=table,
        backends={"up": FakeBackend(name="up")},
        publisher=InMemoryPublisher(),
        spool_dir=tmp_path / "spool",
        registries=Registries(),
    )
    return gateway_app(InferenceSettings(max_body_bytes=LIMIT), ports=ports)


def warehouse(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    """The warehouse declares no limit of its own: the kit's default applies."""
    return warehouse_app(WarehouseSettings(), ports=WarehousePorts(InMemoryEventStore(), keys))


def alerting(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    return alerting_app(AlertingSettings(max_body_bytes=LIMIT), ports=AlertingPorts(InMemoryPublisher(), keys))


def evaluation(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    return evaluation_app(EvaluationSettings(max_body_bytes=LIMIT), ports=EvaluationPorts(InMemoryPublisher(), keys))


def cost(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    return cost_app(CostSettings(max_body_bytes=LIMIT), ports=CostPorts(InMemoryPublisher(), keys))


def drift_detection(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    """The drift-detection app has no routes of its own (probes and metrics only): the matrix checks that."""
    return drift_detection_app(DriftDetectionSettings(max_body_bytes=LIMIT), start=False, api_keys=keys)


def governance(_: Path, keys: ApiKeyStore | None) -> FastAPI:
    settings = GovernanceAuditSettings(max_body_bytes=LIMIT)
    return governance_app(settings, ports=GovernanceAuditPorts(InMemoryPublisher(), keys))


SERVICES: dict[str, tuple[AppFactory, str, str, int]] = {
    "ingest": (ingest, "POST", "/v1/calls", LIMIT),
    "gateway-prompts": (gateway, "POST", "/v1/prompts/summarise/versions", LIMIT),
    "gateway-experiments": (gateway, "POST", "/v1/experiments", LIMIT),
    "gateway-chat": (gateway, "POST", "/v1/chat/completions", LIMIT),
    "warehouse": (warehouse, "GET", "/v1/calls", DEFAULT_MAX_BODY_BYTES),
    "feedback": (feedback, "POST", "/v1/feedback", LIMIT),
    "feedback-batch": (feedback, "POST", "/v1/feedback/batch", LIMIT),
    "evaluation": (evaluation, "PUT", "/v1/evaluators/answer-length", LIMIT),
    "cost": (cost, "PUT", "/v1/prices", LIMIT),
    "alerting": (alerting, "PUT", "/v1/rules/error-rate", LIMIT),
    "governance-audit": (governance, "POST", "/v1/keys", LIMIT),
}
EDGES = [pytest.param(*service, id=name) for name, service in SERVICES.items()]


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def huge_json(size: int) -> bytes:
    """A valid JSON document of about ``size`` bytes (so only its size can be the reason to refuse it)."""
    return json.dumps({"template": [{"role": "system", "content": "x" * size}]}).encode()


class Chunks:
    """A chunked body (no Content-Length) that counts what the server pulled."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.count, self.sent = chunk, count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.sent += len(self.chunk)
            yield self.chunk


def assert_too_large(response: httpx.Response, path: str, limit: int) -> None:
    assert response.status_code == 413, response.text
    if path.startswith("/v1/chat"):  # the gateway's OpenAI routes answer in OpenAI's shape
        assert response.json()["error"]["code"] == "request_too_large"
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["limit"] == limit


@pytest.mark.parametrize(("factory", "method", "path", "limit"), EDGES)
async def test_a_declared_oversize_body_is_413_before_authentication(
    tmp_path: Path, factory: AppFactory, method: str, path: str, limit: int
) -> None:
    async with served(factory(tmp_path, ApiKeyStore([]))) as client:
        response = await client.request(
            method, path, content=huge_json(limit), headers={"Content-Type": "application/json"}
        )
    assert_too_large(response, path, limit)


@pytest.mark.parametrize(("factory", "method", "path", "limit"), EDGES)
async def test_a_chunked_oversize_body_is_never_read_past_the_limit(
    tmp_path: Path, factory: AppFactory, method: str, path: str, limit: int
) -> None:
    """A route that reads its body before authenticating gets 413 once the limit is passed; one that
    authenticates first answers 401 without reading it. Neither reads much past the limit."""
    body = Chunks(b" " * 8192, 2 * limit // 8192)
    async with served(factory(tmp_path, ApiKeyStore([]))) as client:
        response = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    if response.status_code != 401:
        assert_too_large(response, path, limit)
    assert body.sent <= limit + 2 * 8192


@pytest.mark.parametrize(("factory", "method", "path", "limit"), EDGES)
async def test_a_malformed_content_length_is_400(
    tmp_path: Path, factory: AppFactory, method: str, path: str, limit: int
) -> None:
    async with served(factory(tmp_path, ApiKeyStore([]))) as client:
        response = await client.request(method, path, content=Chunks(b"{}", 1), headers={"Content-Length": "lots"})
    assert response.status_code == 400


@pytest.mark.parametrize(("factory", "method", "path", "limit"), EDGES)
async def test_without_a_key_file_authenticated_routes_are_503_and_not_ready(
    tmp_path: Path, factory: AppFactory, method: str, path: str, limit: int
) -> None:
    async with served(factory(tmp_path, None)) as client:
        response = await client.request(method, path, json={}, headers={"Authorization": "Bearer llmops_whatever"})
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert ready.status_code == 503
    assert ready.json() == {"ready": False}  # no key can be valid, so no caller sees the failing api_keys check
