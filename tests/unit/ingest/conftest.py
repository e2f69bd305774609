"""Fixtures for ingest's unit tests: the real app wired to an in-memory publisher and a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from llmops_ingest.adapters import NoopRedactor
from llmops_ingest.bootstrap import IngestPorts, create_app
from llmops_ingest.config import IngestSettings
from llmops_ingest.handlers import IngestContext, RecordRules
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
KEYS = {
    "writer": ("llmops_writer_key_for_tenant_acme_0001", "acme", "writer"),
    "ingest": ("llmops_ingest_key_for_tenant_beta_00001", "beta", "ingest"),
    "reader": ("llmops_reader_key_for_tenant_acme_00001", "acme", "reader"),
}


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def make_call() -> Callable[..., dict[str, Any]]:
    """A valid call record as a client sends it; keyword overrides replace fields, ``drop`` removes some."""

    def make(drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "call_id": "call-0001",
            "app": "support-bot",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "messages": [{"role": "user", "content": "How do I reset my password?"}],
            "output": "Click 'forgot password'.",
            "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
            "started_at": (NOW - timedelta(seconds=30)).isoformat(),
            "latency_ms": 812.5,
        }
        record.update(overrides)
        return {k: v for k, v in record.items() if k not in drop}

    return make


@pytest.fixture
def context() -> IngestContext:
    """The context of records decoded from bytes that let the derived struct judge them, as most are."""
    return IngestContext(tenant_id="acme", source="/services/ingest", now=NOW, redactor=NoopRedactor(), derived=True)


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
def settings() -> IngestSettings:
    return IngestSettings(max_body_bytes=10 * 1024 * 1024, max_batch_records=1000)


@pytest.fixture
def make_client(publisher: InMemoryPublisher, key_store: ApiKeyStore) -> Callable[..., httpx.AsyncClient]:
    """Client factory: ``make_client(settings=..., redactor=...)`` -> an httpx client on the in-process app."""

    def make(settings: IngestSettings | None = None, **ports: Any) -> httpx.AsyncClient:
        wired = IngestPorts(**{"publisher": publisher, "api_keys": key_store, "clock": lambda: NOW, **ports})
        app = create_app(settings or IngestSettings(), ports=wired)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")

    return make


@pytest.fixture
async def client(make_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers of the writer key (tenant ``acme``)."""
    return {"Authorization": f"Bearer {KEYS['writer'][0]}"}


@pytest.fixture
def rules() -> RecordRules:
    return RecordRules()


@pytest.fixture
def keys() -> dict[str, str]:
    """Role name -> API key (writer and reader: tenant ``acme``; ingest: tenant ``beta``)."""
    return {name: key for name, (key, _, _) in KEYS.items()}
