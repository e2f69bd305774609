"""Money: prices, what each call cost, budget definitions and budget events."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import (
    Amount,
    CompactedPayload,
    Currency,
    Fraction,
    Identifier,
    Name,
    ShortText,
    Slug,
    StrictModel,
)

__all__ = [
    "BudgetConfigured",
    "BudgetPeriod",
    "BudgetScope",
    "BudgetStateChanged",
    "CostRecorded",
    "PricePublished",
]

BudgetPeriod = Literal["daily", "weekly", "monthly", "total"]
"""The window a budget's spend accumulates over; ``total`` never resets."""


class CostRecorded(EventPayload):
    """The price of one call: tokens times the unit prices in force when the call started.

    ``cost`` is ``(prompt_tokens * input_price_per_mtok + completion_tokens * output_price_per_mtok) / 1e6``
    (plus cached input tokens at their own price), rounded by the producer to at most 12 decimal places.
    """

    event_type: ClassVar[str] = "llmops.cost.recorded.v1"
    topic: ClassVar[str] = "llmops.costs.recorded"

    call_id: Identifier = Field(description="The priced call; one cost record per call")
    app: Name
    environment: Name = "production"
    user_id: Identifier | None = None
    model: Name
    provider: Name
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cached_prompt_tokens: int = Field(default=0, ge=0, description="Part of prompt_tokens read from a cache")
    input_price_per_mtok: Amount = Field(description="Price of one million prompt tokens")
    output_price_per_mtok: Amount = Field(description="Price of one million completion tokens")
    cached_input_price_per_mtok: Amount | None = Field(default=None, description="Price of cached prompt tokens")
    cost: Amount
    currency: Currency = "USD"
    price_effective_from: AwareDatetime | None = Field(
        default=None, description="effective_from of the llmops.price.published.v1 record used"
    )
    call_started_at: AwareDatetime
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _cached_within_prompt(self) -> CostRecorded:
        if self.cached_prompt_tokens > self.prompt_tokens:
            raise ValueError("cached_prompt_tokens cannot exceed prompt_tokens")
        return self


class BudgetScope(StrictModel):
    """What a budget's spend is summed over: a whole tenant, or one app, user, model or API key."""

    kind: Literal["tenant", "app", "user", "model", "api_key"]
    value: Identifier | None = Field(default=None, description="The app, user, model or key; none for a tenant")

    @model_validator(mode="after")
    def _value_matches_kind(self) -> BudgetScope:
        if (self.kind == "tenant") != (self.value is None):
            raise ValueError("a tenant scope has no value; every other scope needs one")
        return self


Thresholds = Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(max_length=8)]


class BudgetConfigured(CompactedPayload):
    """The current definition of a budget (compacted: the latest record per budget wins).

    Deleting a budget is a tombstone under its key; ``enabled=False`` keeps it but stops enforcement.
    """

    event_type: ClassVar[str] = "llmops.budget.configured.v1"
    topic: ClassVar[str] = "llmops.budgets.config"

    budget_id: Identifier
    name: Name
    scope: BudgetScope
    period: BudgetPeriod
    limit: Amount
    currency: Currency = "USD"
    thresholds: Thresholds = Field(
        default_factory=lambda: [0.5, 0.8, 1.0],
        description="Shares of the limit at which a threshold_crossed event is published",
    )
    action: Literal["alert", "block"] = Field(default="alert", description="What happens once the limit is reached")
    enabled: bool = True
    version: int = Field(ge=1, description="Increases with every change of this budget")
    updated_by: Identifier
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _thresholds_ascending(self) -> BudgetConfigured:
        if list(self.thresholds) != sorted(set(self.thresholds)):
            raise ValueError("thresholds must be strictly ascending")
        return self

    def entity_key(self) -> str:
        return self.budget_id


class BudgetStateChanged(EventPayload):
    """A budget crossed one of its thresholds, went over its limit, or started a new period.

    ``spent`` is the spend of the current period when the event was raised. Producers derive the
    envelope id from budget, period start, kind and threshold, so that each happens once per period.
    """

    event_type: ClassVar[str] = "llmops.budget.state_changed.v1"
    topic: ClassVar[str] = "llmops.budgets.events"

    budget_id: Identifier
    scope: BudgetScope
    period: BudgetPeriod
    period_start: AwareDatetime
    kind: Literal["threshold_crossed", "exceeded", "reset"]
    threshold: Fraction | None = Field(default=None, description="The crossed share of the limit")
    limit: Amount
    spent: Amount
    currency: Currency = "USD"
    message: ShortText | None = None
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> BudgetStateChanged:
        if (self.kind == "threshold_crossed") != (self.threshold is not None):
            raise ValueError("threshold is set exactly for kind 'threshold_crossed'")
        if self.kind == "exceeded" and self.spent < self.limit:
            raise ValueError("an 'exceeded' event needs spent >= limit")
        return self


class PricePublished(CompactedPayload):
    """A model's token prices from ``effective_from`` on (compacted: every price period is kept).

    The key includes ``effective_from`` (to the second), so the topic holds the price history and a call is priced with
    the record of the greatest ``effective_from`` not after the call's start. A correction republishes
    the same provider, model and ``effective_from``.
    """

    event_type: ClassVar[str] = "llmops.price.published.v1"
    topic: ClassVar[str] = "llmops.prices"

    provider: Slug = Field(description="Provider as in llmops.call.recorded.v1, e.g. 'openai'")
    model: Name = Field(description="Model as in llmops.call.recorded.v1, e.g. 'gpt-4o-mini'")
    input_price_per_mtok: Amount = Field(description="Price of one million prompt tokens")
    output_price_per_mtok: Amount = Field(description="Price of one million completion tokens")
    cached_input_price_per_mtok: Amount | None = Field(default=None, description="Price of cached prompt tokens")
    price_per_request: Amount | None = Field(default=None, description="Fixed price of each call")
    price_per_gpu_second: Amount | None = Field(default=None, description="Price of one GPU-second (self-hosted)")
    currency: Currency = "USD"
    effective_from: AwareDatetime
    source: ShortText | None = Field(default=None, description="Where the price comes from, e.g. a pricing page URL")
    published_by: Identifier
    published_at: AwareDatetime

    def entity_key(self) -> str:
        # To the second, in UTC: republishing the same period under another offset is still a correction.
        return f"{self.provider}:{self.model}:{self.effective_from.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
