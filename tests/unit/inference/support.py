"""Shared helpers of the gateway's tests: keys, routes, the harness and assertions.

Two upstreams, ``primary`` and ``secondary`` (both :class:`FakeBackend`), and models:
``gpt-test`` (primary, then secondary as fallback), ``solo`` (primary only) and ``triton-only`` (a third
fake upstream registered as a Triton backend). Retries do not sleep and the breaker/limiter clock is a
:class:`~tests.fixtures.clocks.ManualClock` the tests move.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.bootstrap import Wiring
from llmops_inference.domain import Usage
from llmops_inference.ports import BudgetDecision, CallContext
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.fixtures.clocks import ManualClock

KEYS = {
    "writer": ("llmops_writer_key_for_tenant_acme_0001", "acme", "writer"),
    "admin": ("llmops_admin_key_for_tenant_acme_00001", "acme", "admin"),
    "reader": ("llmops_reader_key_for_tenant_acme_00001", "acme", "reader"),
    "other": ("llmops_writer_key_for_tenant_beta_00001", "beta", "writer"),
    "service": ("llmops_service_key_for_the_platform_0001", "*", "service"),
}
ROUTES: dict[str, Any] = {
    "upstreams": [
        {"name": "primary", "base_url": "http://primary.internal/v1"},
        {"name": "secondary", "base_url": "http://secondary.internal/v1"},
        {"name": "triton", "base_url": "grpc://triton.internal:8001"},
    ],
    "models": {
        "gpt-test": [
            {"backend": "openai", "upstream": "primary", "model": "gpt-up", "timeout_s": 5},
            {"backend": "openai", "upstream": "secondary", "model": "gpt-fallback", "timeout_s": 5},
        ],
        "solo": [{"backend": "openai", "upstream": "primary", "model": "solo-up", "timeout_s": 5}],
        "triton-only": [{"backend": "triton", "upstream": "triton", "model": "llm", "timeout_s": 5}],
    },
}


async def no_sleep(_: float) -> None:
    return None


@dataclass
class Harness:
    """A started gateway and what drives it."""

    app: FastAPI
    client: httpx.AsyncClient
    publisher: InMemoryPublisher
    backends: dict[str, FakeBackend]
    clock: ManualClock
    spool_dir: Path

    @property
    def wiring(self) -> Wiring:
        wiring: Wiring = self.app.state.wiring
        return wiring

    async def events(self) -> list[Any]:
        """The recorded call payloads so far (after the recorder drained)."""
        await self.wiring.recorder.flush()
        return [event.data for event in self.publisher.events]


class SoloBudgetSpent:
    """A budget seam whose budget for ``solo`` is spent (429 for an hour); it keeps every usage charged."""

    def __init__(self) -> None:
        self.charged: list[Usage | None] = []

    async def check(self, context: CallContext, model: str) -> BudgetDecision:
        return BudgetDecision(allowed=model != "solo", message="monthly budget spent", retry_after_s=3600)

    async def charge(self, context: CallContext, model: str, usage: Usage | None) -> None:
        self.charged.append(usage)


def key_store() -> ApiKeyStore:
    return ApiKeyStore(
        [
            ApiKeyRecord(id=f"{name}-key", tenant_id=tenant, role=role, sha256=hash_key(key))  # type: ignore[arg-type]
            for name, (key, tenant, role) in KEYS.items()
        ]
    )


def chat(model: str = "gpt-test", content: str = "Hello?", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def assert_openai_error(response: httpx.Response, status: int, *, code: str | None = None) -> dict[str, Any]:
    """The response is OpenAI's error shape with ``status`` (and ``code``); returns the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return dict(error)
