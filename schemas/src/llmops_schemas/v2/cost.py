"""``llmops.cost.recorded.v2``: what one recorded call cost, or why it could not be priced.

Against v1 (docs/adr/0037) it adds what the cost is grouped by (prompt version, experiment variant, API key),
the per-request and per-GPU-second prices of self-hosted models, whether the token counts are estimates, the
catalog version the price came from, and an explicit ``unpriced`` state: an unknown model has ``cost`` null and
an ``unpriced_reason``, never a guessed price. ``cost`` stopped being required, which ``compat`` refuses in v1.
:meth:`CostRecorded.from_v1` is the upcaster's conversion (a v1 record is always priced from the catalog).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import cost as v1
from llmops_schemas.v1.common import Amount, Currency, Identifier, Name, ShortText

__all__ = ["CostRecorded", "PricingState"]

PricingState = Literal["priced", "unpriced"]
"""``priced``: ``cost`` is the catalog's arithmetic; ``unpriced``: no price was in force, ``cost`` is null."""


class CostRecorded(EventPayload):
    """The cost of one call: its tokens (reported, or estimated offline) times the prices in force at its start.

    ``cost`` is ``((prompt_tokens - cached_prompt_tokens) * input_price_per_mtok + cached_prompt_tokens *
    cached_input_price_per_mtok + completion_tokens * output_price_per_mtok) / 1e6 + price_per_request +
    gpu_seconds * price_per_gpu_second``, each missing price counting 0 (cached input at the input price),
    exact in decimal and rounded half-even to 12 decimal places. The producer derives the envelope id from the
    tenant and ``call_id``, so a call re-priced after a restart is the same event.
    """

    event_type: ClassVar[str] = "llmops.cost.recorded.v2"
    topic: ClassVar[str] = "llmops.costs.recorded"

    call_id: Identifier = Field(description="The priced call; one cost record per call")
    app: Name
    environment: Name = "production"
    user_id: Identifier | None = None
    model: Name
    provider: Name
    origin: Literal["application", "platform"] = "application"
    key_id: Identifier | None = Field(default=None, description="Id of the API key the call was made with")
    prompt_name: Name | None = None
    prompt_version: int | None = Field(default=None, ge=1)
    experiment_id: Identifier | None = None
    variant: Name | None = Field(default=None, description="The experiment arm the call was routed to")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cached_prompt_tokens: int = Field(default=0, ge=0, description="Part of prompt_tokens read from a cache")
    tokens_estimated: bool = Field(
        default=False, description="True when the call had no usage and the tokens were counted offline"
    )
    gpu_seconds: float | None = Field(default=None, ge=0, le=86_400, description="GPU time billed (self-hosted)")
    pricing: PricingState = "priced"
    unpriced_reason: ShortText | None = Field(default=None, description="Why no price applied (unpriced only)")
    price_source: Literal["catalog", "tenant"] | None = Field(
        default=None, description="The seeded catalog, or the tenant's negotiated price"
    )
    catalog_version: ShortText | None = Field(default=None, description="Version of the catalog the price is from")
    input_price_per_mtok: Amount | None = Field(default=None, description="Price of one million prompt tokens")
    output_price_per_mtok: Amount | None = Field(default=None, description="Price of one million completion tokens")
    cached_input_price_per_mtok: Amount | None = Field(default=None, description="Price of cached prompt tokens")
    price_per_request: Amount | None = None
    price_per_gpu_second: Amount | None = None
    cost: Amount | None = Field(default=None, description="Null exactly when unpriced")
    currency: Currency = "USD"
    price_effective_from: AwareDatetime | None = None
    call_started_at: AwareDatetime
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> CostRecorded:
        if self.cached_prompt_tokens > self.prompt_tokens:
            raise ValueError("cached_prompt_tokens cannot exceed prompt_tokens")
        if (self.pricing == "priced") != (self.cost is not None):
            raise ValueError("cost is set exactly when pricing is 'priced'")
        if (self.pricing == "unpriced") != (self.unpriced_reason is not None):
            raise ValueError("unpriced_reason is set exactly when pricing is 'unpriced'")
        return self

    @property
    def amount(self) -> Decimal:
        """The cost, 0 when unpriced (what a sum of spend adds)."""
        return self.cost if self.cost is not None else Decimal(0)

    @classmethod
    def from_v1(cls, old: v1.CostRecorded) -> CostRecorded:
        """A v1 record as v2: priced from the catalog, no grouping fields (v1 did not carry them)."""
        data = old.model_dump(exclude_unset=True)
        return cls.model_validate({**data, "pricing": "priced", "price_source": "catalog"})
