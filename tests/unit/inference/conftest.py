"""Fixtures for the gateway's unit tests: the real app over fake backends, an in-memory publisher, a temp spool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.bootstrap import InferencePorts, create_app
from llmops_inference.config import InferenceSettings
from llmops_inference.routing_table import RoutingTable
from llmops_kit.kafka.publisher import InMemoryPublisher

from tests.fixtures.clocks import ManualClock
from tests.unit.inference.chain_support import chain_gateway
from tests.unit.inference.support import KEYS, ROUTES, Harness, key_store, no_sleep


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS['writer'][0]}"}


@pytest.fixture
def keys() -> dict[str, str]:
    return {name: key for name, (key, _, _) in KEYS.items()}


@pytest.fixture
def make_harness(tmp_path: Path) -> Callable[..., Any]:
    """``async with make_harness(settings=..., routes=..., **ports) as h``: a started gateway."""

    @asynccontextmanager
    async def make(
        settings: InferenceSettings | None = None, routes: dict[str, Any] | None = None, **ports: Any
    ) -> AsyncIterator[Harness]:
        table = RoutingTable.model_validate(routes or ROUTES)
        backends = {u.name: FakeBackend(name=u.name) for u in table.upstreams}
        publisher = InMemoryPublisher()
        clock = ManualClock(1000.0)
        spool_dir = tmp_path / "spool"
        wired = InferencePorts(
            api_keys=key_store(),
            table=table,
            backends=ports.pop("backends", backends),
            publisher=ports.pop("publisher", publisher),
            spool_dir=spool_dir,
            retry_sleep=no_sleep,
            clock=clock,
            **ports,
        )
        app = create_app(settings or InferenceSettings(replay_interval_s=0.05), ports=wired)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield Harness(app, client, publisher, dict(wired.backends), clock, spool_dir)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def gw(make_harness: Callable[..., Any]) -> AsyncIterator[Harness]:
    async with make_harness() as harness:
        yield harness


@pytest.fixture
async def chain_gw(make_harness: Callable[..., Any]) -> AsyncIterator[Harness]:
    """A started gateway over echo backends with the chain prompts published (``chain_support``)."""
    async with chain_gateway(make_harness) as harness:
        yield harness
