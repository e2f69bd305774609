"""Fixtures for the feedback service's unit tests: the real app, the kit's in-memory publisher, fixed clocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from llmops_feedback.bootstrap import FeedbackPorts, create_app
from llmops_feedback.config import FeedbackSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.feedback_tokens import FeedbackTokenVerifier
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.feedback.support import KEYS, NOW, SECRET


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def key_store() -> ApiKeyStore:
    return ApiKeyStore(
        [
            ApiKeyRecord(id=f"{name}-key", tenant_id=tenant, role=role, sha256=hash_key(key))
            for name, (key, tenant, role) in KEYS.items()
        ]
    )


@pytest.fixture
def verifier() -> FeedbackTokenVerifier:
    return FeedbackTokenVerifier([SECRET], clock=lambda: NOW.timestamp())


@pytest.fixture
def make_client(
    publisher: InMemoryPublisher, key_store: ApiKeyStore, verifier: FeedbackTokenVerifier
) -> Callable[..., httpx.AsyncClient]:
    """``make_client(settings=..., **ports)`` -> an httpx client on the in-process app."""

    def make(settings: FeedbackSettings | None = None, **ports: Any) -> httpx.AsyncClient:
        wired = FeedbackPorts(
            **{"publisher": publisher, "api_keys": key_store, "verifier": verifier, "clock": lambda: NOW, **ports}
        )
        app = create_app(settings or FeedbackSettings(), ports=wired)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback")

    return make


@pytest.fixture
async def client(make_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c
