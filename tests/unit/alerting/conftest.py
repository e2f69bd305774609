"""Fixtures of the alerting unit tests: the real app over the kit's in-memory publisher, the stores loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from llmops_alerting.bootstrap import AlertingPorts, create_app
from llmops_alerting.config import AlertingSettings
from llmops_alerting.ports import Secrets
from llmops_alerting.state import AlertBook, ConfigStore, Outbox
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.unit.alerting.support import KEYS, NOW, SECRETS


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def ports(publisher: InMemoryPublisher) -> AlertingPorts:
    keys = ApiKeyStore(
        [ApiKeyRecord(id=f"{n}-key", tenant_id=t, role=r, sha256=hash_key(k)) for n, (k, t, r) in KEYS.items()]
    )
    stores: list[Any] = [ConfigStore(), AlertBook(), Outbox()]
    for store in stores:
        store.mark_caught_up()
    config, book, outbox = stores
    return AlertingPorts(
        publisher, keys, config=config, book=book, outbox=outbox, secrets=Secrets(SECRETS), clock=lambda: NOW
    )


@pytest.fixture
def make_client(ports: AlertingPorts) -> Callable[..., httpx.AsyncClient]:
    def make(settings: AlertingSettings | None = None) -> httpx.AsyncClient:
        app = create_app(settings or AlertingSettings(), ports=ports)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://alerting")

    return make


@pytest.fixture
async def client(make_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c
