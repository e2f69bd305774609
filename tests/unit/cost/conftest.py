"""Fixtures for the cost service's unit tests: the real app with the kit's in-memory publisher, a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from llmops_cost.bootstrap import CostPorts, create_app
from llmops_cost.config import CostSettings
from llmops_cost.prices import PriceBook, load_catalog
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.budgets import BudgetLedger
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import BudgetConfigured

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
KEYS = {
    "admin": ("admin-key-secret", "acme", "admin"),
    "reader": ("reader-key-secret", "acme", "reader"),
    "other": ("other-admin-secret", "globex", "admin"),
    "ingest": ("ingest-key-secret", "acme", "ingest"),
}


def ledger_with_budget() -> BudgetLedger:
    """A ledger with one daily tenant-wide budget of 1 USD for ``acme`` (thresholds 50, 80, 100 %)."""
    ledger = BudgetLedger()
    ledger.put("acme", BudgetConfigured(
        budget_id="b1", name="b1", scope={"kind": "tenant"}, period="daily", limit=Decimal(1), version=1,  # type: ignore[arg-type]
        updated_by="admin", updated_at=NOW,
    ))  # fmt: skip
    return ledger


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


@pytest.fixture(scope="session")
def catalog() -> list[Any]:
    return load_catalog()


@pytest.fixture
def book(catalog: list[Any]) -> PriceBook:
    return PriceBook(catalog)


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def make_client(publisher: InMemoryPublisher, book: PriceBook) -> Callable[..., httpx.AsyncClient]:
    store = ApiKeyStore(
        [ApiKeyRecord(id=f"{n}-id", tenant_id=t, role=r, sha256=hash_key(k)) for n, (k, t, r) in KEYS.items()]
    )

    def make(**ports: Any) -> httpx.AsyncClient:
        wired = CostPorts(**{"publisher": publisher, "api_keys": store, "book": book, "clock": lambda: NOW, **ports})
        app = create_app(CostSettings(), ports=wired)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cost")

    return make


@pytest.fixture
async def client(make_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c
