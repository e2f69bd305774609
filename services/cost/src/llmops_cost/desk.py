"""What the HTTP routes work with: quotes from the catalog, tenants' negotiated prices, reports and estimates.

A negotiated price is validated, published on ``llmops.prices`` together with its audit entry (one
``publish_many``: a price the caller is told was set has its audit entry on the log), then applied locally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.warehouse import HistoryError, HistoryReader, HistoryUnavailable
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PricePublished
from pydantic import BaseModel, JsonValue

from llmops_cost.prices import Price, PriceBook, Usage, cost_of, tenant_price
from llmops_cost.report import GroupBy, Period, ReportRow, aggregate
from llmops_cost.tokens import TokenCounter

__all__ = ["CostDesk", "DeskLimits", "PriceView", "Quote"]


class PriceView(BaseModel):
    """A price as the API shows it (amounts as decimal strings)."""

    model: str
    provider: str
    source: str
    catalog_version: str
    effective_from: datetime
    currency: str
    input_price_per_mtok: Decimal | None
    output_price_per_mtok: Decimal | None
    cached_input_price_per_mtok: Decimal | None
    price_per_request: Decimal | None
    price_per_gpu_second: Decimal | None

    @classmethod
    def of(cls, price: Price) -> PriceView:
        return cls(
            model=price.model,
            provider=price.provider,
            source=price.source,
            catalog_version=price.version,
            effective_from=price.effective_from,
            currency=price.currency,
            input_price_per_mtok=price.input_per_mtok,
            output_price_per_mtok=price.output_per_mtok,
            cached_input_price_per_mtok=price.cached_input_per_mtok,
            price_per_request=price.per_request,
            price_per_gpu_second=price.per_gpu_second,
        )


class Quote(BaseModel):
    """The catalog's cost of one call of ``model`` (``usd`` as a decimal string, exact)."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    tokens_estimated: bool = False
    usd: Decimal
    price: PriceView


class Estimate(BaseModel):
    """What a set of prompts would cost on a model: tokens counted offline (always an estimate)."""

    model: str
    texts: int
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool = True
    usd: Decimal
    price: PriceView


@dataclass(frozen=True)
class DeskLimits:
    report_max_rows: int
    publish_timeout_s: float
    retry_after_s: int


def _no_price(model: str) -> ProblemError:
    return ProblemError(
        404, "Not Found", f"no price for model {model!r}: model names are spelled as in LiteLLM's price map"
    )


@dataclass
class CostDesk:
    """The cost service's operations behind its routes."""

    book: PriceBook
    counter: TokenCounter
    publisher: EventPublisher
    history: HistoryReader | None
    source: str
    limits: DeskLimits
    clock: Callable[[], datetime]

    def __post_init__(self) -> None:
        self._audit = AuditTrail(self.publisher, source=self.source, clock=self.clock)

    def price(self, tenant: str, model: str, at: datetime | None) -> Price:
        found = self.book.lookup(tenant, model, at or self.clock())
        if found is None:
            raise _no_price(model)
        return found

    def quote(self, tenant: str, model: str, usage: Usage, at: datetime | None) -> Quote:
        price = self.price(tenant, model, at)
        return Quote(
            model=model,
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            cached_prompt_tokens=usage.cached,
            usd=cost_of(price, usage),
            price=PriceView.of(price),
        )

    def estimate(self, tenant: str, model: str, texts: list[str], completion_tokens: int) -> Estimate:
        price = self.price(tenant, model, None)
        prompt = sum(self.counter.count_chat(model, [text]) for text in texts)
        usage = Usage(prompt, completion_tokens * len(texts))
        return Estimate(
            model=model,
            texts=len(texts),
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            usd=cost_of(price, usage),
            price=PriceView.of(price),
        )

    async def set_price(self, tenant: str, actor: Actor, payload: PricePublished) -> PriceView:
        """Publish a tenant's negotiated price with its audit entry, then apply it."""
        event = CloudEvent.wrap(payload, source=self.source, tenant_id=tenant, key_id=actor.key_id)
        details: dict[str, JsonValue] = {"model": payload.model, "effective_from": payload.effective_from.isoformat()}
        try:
            await asyncio.wait_for(
                self._audit.publish_with(
                    tenant, actor, action="price.set", resource=("price", payload.entity_key()), details=details,
                    events=[event],
                ),
                self.limits.publish_timeout_s,
            )  # fmt: skip
        except (TimeoutError, OSError) as exc:
            raise ProblemError(
                503, "Service Unavailable", f"Kafka did not store the price: {type(exc).__name__}",
                retry_after=self.limits.retry_after_s,
            ) from None  # fmt: skip
        price = tenant_price(event)
        self.book.put_tenant_price(tenant, price)
        return PriceView.of(price)

    async def report(
        self, tenant: str, group_by: GroupBy, period: Period, start: datetime, end: datetime
    ) -> list[ReportRow]:
        """Spend per period and group over ``[start, end)``, from the warehouse's cost records."""
        if self.history is None:
            raise ProblemError(503, "Service Unavailable", "reports need LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY")
        params = {"start": start.isoformat(), "end": end.isoformat()}
        try:
            read = await self.history.read(tenant, "cost_records", params, self.limits.report_max_rows)
        except HistoryUnavailable as exc:
            raise ProblemError(503, "Service Unavailable", str(exc), retry_after=exc.retry_after_s) from None
        except HistoryError as exc:
            raise ProblemError(502, "Bad Gateway", str(exc)) from None
        if read.truncated:
            raise ProblemError(
                413, "Content Too Large",
                f"more than {self.limits.report_max_rows} cost records in the window: ask for a shorter one",
            )  # fmt: skip
        return aggregate(read.rows, tenant, group_by, period)
