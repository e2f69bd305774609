"""The catalog and its arithmetic: seeded from LiteLLM's map, effective-dated, tenant prices over the catalog's."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from llmops_cost.catalog.refresh import CATALOG_DIR, catalog_from_litellm, per_mtok
from llmops_cost.prices import Price, PriceBook, PriceStore, Usage, cost_of, load_catalog
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PricePublished

AT = datetime(2026, 3, 14, tzinfo=UTC)
LITELLM_MAP = next(
    Path(".cache/litellm-venv/lib").glob("python3*/site-packages/litellm/model_prices_and_context_window_backup.json"),
    None,
)


def test_the_seeded_catalog_records_its_version_and_source() -> None:
    document = json.loads((CATALOG_DIR / "litellm-1.108.7.json").read_text())
    assert document["version"] == "litellm-1.108.7"
    assert len(document["source_sha256"]) == 64
    assert document["models"]["gpt-4o-mini"] == {
        "provider": "openai", "input_price_per_mtok": "0.15", "output_price_per_mtok": "0.6",
        "cached_input_price_per_mtok": "0.075",
    }  # fmt: skip


def test_per_token_floats_become_exact_decimals_per_million() -> None:
    assert per_mtok(1.5e-07) == "0.15"
    assert per_mtok(2.5e-06) == "2.5"
    assert per_mtok(3e-05) == "30"


def test_the_refresh_keeps_priced_text_models_only() -> None:
    raw = json.dumps({
        "sample_spec": {"mode": "chat", "input_cost_per_token": 0.0},
        "m-chat": {
            "mode": "chat", "litellm_provider": "x", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
        },
        "m-image": {"mode": "image_generation", "input_cost_per_token": 1e-06},
        "m-free": {"mode": "chat", "litellm_provider": "x"},
    }).encode()  # fmt: skip
    document = catalog_from_litellm(raw, version="v-test", effective_from="2026-01-01T00:00:00Z")
    assert list(document["models"]) == ["m-chat"]
    assert document["models"]["m-chat"]["output_price_per_mtok"] == "2"


@pytest.mark.skipif(LITELLM_MAP is None, reason="no LiteLLM installation in .cache to compare with")
def test_the_committed_catalog_is_the_litellm_map_it_names() -> None:
    assert LITELLM_MAP is not None
    committed = json.loads((CATALOG_DIR / "litellm-1.108.7.json").read_text())
    fresh = catalog_from_litellm(
        LITELLM_MAP.read_bytes(), version="litellm-1.108.7", effective_from=committed["effective_from"]
    )
    assert fresh["source_sha256"] == committed["source_sha256"]
    assert fresh["models"] == committed["models"]


def test_cost_equals_the_catalog_arithmetic_to_1e_9(catalog: list[Price]) -> None:
    """A reference computed in floats from the committed per-million prices, for 2,000 calls on 200 models."""
    rng = random.Random(7)
    document = json.loads((CATALOG_DIR / "litellm-1.108.7.json").read_text())["models"]
    book = PriceBook(catalog)
    names = rng.sample(sorted(n for n, e in document.items() if "output_price_per_mtok" in e), 200)
    for _ in range(2_000):
        name = rng.choice(names)
        entry = document[name]
        prompt, completion = rng.randint(0, 200_000), rng.randint(0, 50_000)
        cached = rng.randint(0, prompt)
        inp, out = float(entry["input_price_per_mtok"]), float(entry["output_price_per_mtok"])
        cached_rate = float(entry.get("cached_input_price_per_mtok", entry["input_price_per_mtok"]))
        reference = ((prompt - cached) * inp + cached * cached_rate + completion * out) / 1e6
        price = book.lookup("acme", name, AT)
        assert price is not None
        assert abs(float(cost_of(price, Usage(prompt, completion, cached))) - reference) <= 1e-9, name


def test_per_request_and_gpu_second_prices_add_up() -> None:
    price = Price("m", "p", AT, "v", per_request=Decimal("0.01"), per_gpu_second=Decimal("0.0007"),
                  input_per_mtok=Decimal("1"))  # fmt: skip
    assert cost_of(price, Usage(1_000_000, 0, 0, gpu_seconds=2.5)) == Decimal("1.011750000000")


def test_prices_are_effective_dated() -> None:
    old = Price("m", "p", AT, "v1", input_per_mtok=Decimal("1"))
    new = Price("m", "p", AT + timedelta(days=10), "v2", input_per_mtok=Decimal("2"))
    book = PriceBook([new, old])
    assert book.lookup("acme", "m", AT - timedelta(seconds=1)) is None
    assert book.lookup("acme", "m", AT + timedelta(days=9)) == old
    assert book.lookup("acme", "m", AT + timedelta(days=10)) == new


def _published(tenant: str, price: str, start: datetime) -> CloudEvent[PricePublished]:
    payload = PricePublished(
        provider="openai", model="gpt-4o-mini", input_price_per_mtok=Decimal(price),
        output_price_per_mtok=Decimal(price), effective_from=start, published_by="admin-id", published_at=start,
    )  # fmt: skip
    return CloudEvent.wrap(payload, source="/services/cost", tenant_id=tenant)


def test_a_tenant_price_applies_to_its_tenant_only_and_from_its_date(book: PriceBook) -> None:
    store = PriceStore(book)
    store.apply(_published("acme", "0.1", AT))
    assert book.lookup("acme", "gpt-4o-mini", AT).input_per_mtok == Decimal("0.1")  # type: ignore[union-attr]
    assert book.lookup("acme", "gpt-4o-mini", AT - timedelta(days=1)).source == "catalog"  # type: ignore[union-attr]
    assert book.lookup("globex", "gpt-4o-mini", AT).source == "catalog"  # type: ignore[union-attr]


def test_a_tombstone_removes_the_tenant_price(book: PriceBook) -> None:
    store = PriceStore(book)
    event = _published("acme", "0.1", AT)
    store.apply(event)
    store.delete(f"acme:{event.data.entity_key()}")
    assert book.lookup("acme", "gpt-4o-mini", AT).source == "catalog"  # type: ignore[union-attr]


def test_every_committed_version_loads() -> None:
    versions = {p.version for p in load_catalog()}
    assert {"litellm-1.108.7", "self-hosted-1"} <= versions
