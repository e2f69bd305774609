"""The price catalog in memory: effective-dated prices per model, the seeded catalog under each tenant's own.

A call is priced with the tenant's negotiated price of the greatest ``effective_from`` not after the call's
start, else the seeded catalog's (``catalog/versions/*.json``) by the same rule. :func:`cost_of` is the one
place that turns tokens into money.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Literal

from llmops_kit.kafka.materializer import CompactedStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PricePublished

from llmops_cost.catalog.refresh import CATALOG_DIR

__all__ = ["Price", "PriceBook", "PriceStore", "Usage", "cost_of", "load_catalog"]

_MILLION = Decimal(1_000_000)
_CENT_PICO = Decimal("0.000000000001")
"""Costs are rounded half-even to 12 decimal places, the resolution of an ``Amount``."""


@dataclass(frozen=True, slots=True)
class Price:
    """One model's prices from ``effective_from`` on; a missing price counts 0 (cached input: the input price)."""

    model: str
    provider: str
    effective_from: datetime
    version: str
    source: Literal["catalog", "tenant"] = "catalog"
    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    cached_input_per_mtok: Decimal | None = None
    per_request: Decimal | None = None
    per_gpu_second: Decimal | None = None
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class Usage:
    """What a call used: tokens (``cached`` is part of ``prompt``) and, for self-hosted models, GPU time."""

    prompt: int
    completion: int
    cached: int = 0
    gpu_seconds: float | None = None


def _zero(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


def cost_of(price: Price, usage: Usage) -> Decimal:
    """The catalog's arithmetic, exact in decimal, rounded half-even to 12 places (see ``CostRecorded``)."""
    cached_rate = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    tokens = (
        (usage.prompt - usage.cached) * _zero(price.input_per_mtok)
        + usage.cached * _zero(cached_rate)
        + usage.completion * _zero(price.output_per_mtok)
    ) / _MILLION
    gpu = Decimal(repr(usage.gpu_seconds)) * _zero(price.per_gpu_second) if usage.gpu_seconds else Decimal(0)
    return (tokens + _zero(price.per_request) + gpu).quantize(_CENT_PICO, rounding=ROUND_HALF_EVEN)


def _decimal(entry: dict[str, Any], name: str) -> Decimal | None:
    value = entry.get(name)
    return Decimal(value) if isinstance(value, str) else None


def _catalog_prices(document: dict[str, Any]) -> Iterable[Price]:
    start = datetime.fromisoformat(document["effective_from"]).astimezone(UTC)
    for model, entry in document["models"].items():
        yield Price(
            model=model,
            provider=entry.get("provider", "unknown"),
            effective_from=start,
            version=document["version"],
            input_per_mtok=_decimal(entry, "input_price_per_mtok"),
            output_per_mtok=_decimal(entry, "output_price_per_mtok"),
            cached_input_per_mtok=_decimal(entry, "cached_input_price_per_mtok"),
            per_request=_decimal(entry, "price_per_request"),
            per_gpu_second=_decimal(entry, "price_per_gpu_second"),
            currency=document.get("currency", "USD"),
        )


def load_catalog(directory: Path = CATALOG_DIR) -> list[Price]:
    """Every price of every committed catalog version."""
    prices: list[Price] = []
    for path in sorted(directory.glob("*.json")):
        prices.extend(_catalog_prices(json.loads(path.read_text())))
    return prices


@dataclass
class _Timeline:
    """One model's prices, sorted by ``effective_from`` (the greatest one not after a call's start applies)."""

    starts: list[datetime] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)

    def put(self, price: Price) -> None:
        at = bisect.bisect_left(self.starts, price.effective_from)
        if at < len(self.starts) and self.starts[at] == price.effective_from:
            self.prices[at] = price  # a correction of the same period
            return
        self.starts.insert(at, price.effective_from)
        self.prices.insert(at, price)

    def remove(self, effective_from: datetime) -> None:
        at = bisect.bisect_left(self.starts, effective_from)
        if at < len(self.starts) and self.starts[at] == effective_from:
            del self.starts[at], self.prices[at]

    def at(self, when: datetime) -> Price | None:
        index = bisect.bisect_right(self.starts, when) - 1
        return self.prices[index] if index >= 0 else None


class PriceBook:
    """The seeded catalog plus each tenant's negotiated prices, looked up by model and instant."""

    def __init__(self, catalog: Iterable[Price] = ()) -> None:
        self._catalog: dict[str, _Timeline] = {}
        self._tenants: dict[tuple[str, str], _Timeline] = {}
        self.versions: set[str] = set()
        for price in catalog:
            self._catalog.setdefault(price.model, _Timeline()).put(price)
            self.versions.add(price.version)

    def lookup(self, tenant: str, model: str, at: datetime) -> Price | None:
        """The price in force for ``tenant``'s call to ``model`` started at ``at``; None when there is none."""
        own = self._tenants.get((tenant, model))
        price = own.at(at) if own is not None else None
        if price is None:
            timeline = self._catalog.get(model)
            price = timeline.at(at) if timeline is not None else None
        return price

    def put_tenant_price(self, tenant: str, price: Price) -> None:
        self._tenants.setdefault((tenant, price.model), _Timeline()).put(price)

    def remove_tenant_price(self, tenant: str, model: str, effective_from: datetime) -> None:
        timeline = self._tenants.get((tenant, model))
        if timeline is not None:
            timeline.remove(effective_from)

    def tenant_prices(self, tenant: str, model: str) -> list[Price]:
        """A tenant's negotiated prices of ``model``, oldest first."""
        timeline = self._tenants.get((tenant, model))
        return list(timeline.prices) if timeline is not None else []


def tenant_price(event: CloudEvent[PricePublished]) -> Price:
    """A published price as a tenant's negotiated :class:`Price` (its version: tenant, model and period)."""
    data = event.data
    start = data.effective_from.astimezone(UTC)
    return Price(
        model=data.model,
        provider=data.provider,
        effective_from=start,
        version=f"{event.tenant_id}:{data.entity_key()}",
        source="tenant",
        input_per_mtok=data.input_price_per_mtok,
        output_per_mtok=data.output_price_per_mtok,
        cached_input_per_mtok=data.cached_input_price_per_mtok,
        per_request=data.price_per_request,
        per_gpu_second=data.price_per_gpu_second,
        currency=data.currency,
    )


class PriceStore(CompactedStore):
    """``llmops.prices`` folded into a :class:`PriceBook`: each record a tenant's price period, a tombstone
    (key ``<tenant>:<provider>:<model>:<effective_from>``) removes one."""

    topic = PricePublished.topic

    def __init__(self, book: PriceBook) -> None:
        super().__init__()
        self.book = book

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, PricePublished):
            self.book.put_tenant_price(event.tenant_id, tenant_price(event))

    def delete(self, key: str) -> None:
        # The key ends with the instant as YYYY-MM-DDTHH:MM:SSZ (20 characters); model names may hold ':'.
        tenant, _, rest = key.partition(":")
        _provider, _, rest = rest.partition(":")
        model, stamp = rest[:-21], rest[-20:]
        try:
            effective_from = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return
        self.book.remove_tenant_price(tenant, model, effective_from)
