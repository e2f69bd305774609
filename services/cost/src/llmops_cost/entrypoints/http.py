"""HTTP API of the cost service: prices and quotes (``/v1/prices``), spend reports and estimates (``/v1/costs``).

Reads need ``metrics:read``; setting a tenant's negotiated price needs ``admin`` and is audited. Every answer
is the caller's tenant's: a negotiated price applies to its tenant only. The routes find the
:class:`~llmops_cost.desk.CostDesk` on ``app.state.cost``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError
from llmops_schemas.v1 import PricePublished
from llmops_schemas.v1.common import Amount, Currency, Name, Slug
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from llmops_cost.desk import CostDesk, Estimate, PriceView, Quote
from llmops_cost.prices import Usage
from llmops_cost.report import GroupBy, Period, ReportRow

__all__ = ["DESK", "PriceIn", "router"]

DESK = "cost"
MAX_TOKENS = 100_000_000
MAX_REPORT_DAYS = 400

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No price for the model (names as in LiteLLM's price map)",
        413: "The body, or the records a report would read, exceed the service's bounds",
        422: "A parameter or the body is not valid (a negative or non-decimal price, no currency...)",
        502: "The warehouse refused the read",
        503: "Starting, Kafka did not store a price, or reports are not configured (Retry-After)",
    }.items()
}


def _desk(request: Request) -> CostDesk:
    desk = getattr(request.app.state, DESK, None)
    if not isinstance(desk, CostDesk):
        raise ProblemError(503, "Service Unavailable", "the cost service is starting")
    return desk


Desk = Annotated[CostDesk, Depends(_desk)]
Reader = Annotated[Principal, Depends(requires("metrics:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
ModelName = Annotated[str, Query(min_length=1, max_length=256, description="As LiteLLM's price map spells it")]
Tokens = Annotated[int, Query(ge=0, le=MAX_TOKENS)]

router = APIRouter(tags=["cost"], responses=PROBLEMS)


@router.get("/v1/prices", response_model=PriceView, summary="The price of a model in force now (or at `at`)")
async def get_price(
    model: ModelName, desk: Desk, caller: Reader, at: Annotated[AwareDatetime | None, Query()] = None
) -> PriceView:
    """The caller's tenant's negotiated price when it has one in force, else the seeded catalog's."""
    return PriceView.of(desk.price(caller.tenant_id, model, at))


@router.get("/v1/prices/quote", response_model=Quote, summary="The cost of one call of a model")
async def quote(
    model: ModelName,
    desk: Desk,
    caller: Reader,
    prompt_tokens: Tokens = 0,
    completion_tokens: Tokens = 0,
    cached_prompt_tokens: Tokens = 0,
    at: Annotated[AwareDatetime | None, Query()] = None,
) -> Quote:
    """The catalog's arithmetic for the given tokens (``usd``), with the price and catalog version it used."""
    if cached_prompt_tokens > prompt_tokens:
        raise ProblemError(422, "Unprocessable Content", "cached_prompt_tokens cannot exceed prompt_tokens")
    usage = Usage(prompt_tokens, completion_tokens, cached_prompt_tokens)
    return desk.quote(caller.tenant_id, model, usage, at)


class PriceIn(BaseModel):
    """A tenant's negotiated price of one model from ``effective_from`` on; at least one price, a currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Name
    provider: Slug
    currency: Currency = Field(description="ISO 4217 code; required")
    effective_from: AwareDatetime
    input_price_per_mtok: Amount | None = None
    output_price_per_mtok: Amount | None = None
    cached_input_price_per_mtok: Amount | None = None
    price_per_request: Amount | None = None
    price_per_gpu_second: Amount | None = None

    @model_validator(mode="after")
    def _some_price(self) -> PriceIn:
        prices = (
            self.input_price_per_mtok, self.output_price_per_mtok, self.cached_input_price_per_mtok,
            self.price_per_request, self.price_per_gpu_second,
        )  # fmt: skip
        if all(p is None for p in prices):
            raise ValueError("a price needs at least one of the token, request or GPU-second prices")
        return self


@router.put("/v1/prices", response_model=PriceView, summary="Set the tenant's negotiated price of a model")
async def put_price(body: PriceIn, request: Request, desk: Desk, caller: Admin) -> PriceView:
    """Publish the price on ``llmops.prices`` with its audit entry; calls from ``effective_from`` on use it."""
    payload = PricePublished(
        **body.model_dump(exclude_none=True),
        published_by=Actor.of(caller).id,
        published_at=desk.clock(),
    )
    return await desk.set_price(caller.tenant_id, Actor.of(caller, request), payload)


@router.get("/v1/costs/report", response_model=list[ReportRow], summary="Spend per period and group")
async def report(
    desk: Desk,
    caller: Reader,
    group_by: Annotated[GroupBy, Query()] = "model",
    period: Annotated[Period, Query()] = "day",
    start: Annotated[AwareDatetime | None, Query(description="Default: 7 days before `end`")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Default: now")] = None,
) -> list[ReportRow]:
    """Each call counted once, from the warehouse's cost records; ``usd`` excludes unpriced calls (counted)."""
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=7)
    if not start < end or end - start > timedelta(days=MAX_REPORT_DAYS):
        raise ProblemError(422, "Unprocessable Content", f"start must be before end, at most {MAX_REPORT_DAYS} days")
    return await desk.report(caller.tenant_id, group_by, period, start, end)


class EstimateIn(BaseModel):
    """Prompts to price on a model (for example a dataset's inputs) and the completion tokens expected of each."""

    model_config = ConfigDict(extra="forbid")

    model: Name
    texts: list[Annotated[str, Field(max_length=1_000_000)]] = Field(min_length=1, max_length=100_000)
    completion_tokens: int = Field(
        strict=True, default=0, ge=0, le=1_000_000, description="Expected completion tokens per text"
    )


@router.post("/v1/costs/estimate", response_model=Estimate, summary="What a set of prompts would cost on a model")
async def estimate(body: EstimateIn, desk: Desk, caller: Reader) -> Estimate:
    """Tokens counted offline with the model family's tokenizer (always marked an estimate), then priced."""
    return desk.estimate(caller.tenant_id, body.model, body.texts, body.completion_tokens)
