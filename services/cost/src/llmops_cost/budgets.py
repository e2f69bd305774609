"""Budgets in the cost service: definitions through the API (threshold events: :mod:`llmops_cost.thresholds`).

Definitions are ``llmops.budget.configured.v1`` records on the compacted ``llmops.budgets.config`` (published with
their audit entry); the kit's :class:`~llmops_kit.budget_feed.BudgetFeed` keeps this process's ledger (spend per
current period, from the cost events) as every gateway replica does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.budgets import BudgetLedger
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetConfigured, BudgetScope
from llmops_schemas.v1.common import Amount, Currency, Name
from llmops_schemas.v1.cost import BudgetPeriod
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, ValidationError

__all__ = ["BudgetDesk", "BudgetIn", "BudgetView"]


class BudgetView(BaseModel):
    """A budget with its current period's spend and what running calls have reserved."""

    budget: BudgetConfigured
    period_start: datetime
    spent: Decimal
    reserved: Decimal
    spent_lower_bound: str | None = Field(
        default=None,
        description="Why `spent` misses part of the period (the warehouse seed was cut short); null: it is exact",
    )


class BudgetIn(BaseModel):
    """A budget definition: scope, period, limit (a decimal string) and currency; thresholds are shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    scope: BudgetScope
    period: BudgetPeriod
    limit: Amount
    currency: Currency = Field(description="ISO 4217 code; required")
    thresholds: list[Annotated[float, Field(strict=True, gt=0, le=1)]] = Field(default=[0.5, 0.8, 1.0], max_length=8)
    action: Literal["alert", "block"] = "alert"
    enabled: StrictBool = True


@dataclass
class BudgetDesk:
    """Budget definitions through the API: validated, published with their audit entry, applied."""

    ledger: BudgetLedger
    publisher: EventPublisher
    source: str
    clock: Callable[[], datetime]
    publish_timeout_s: float = 10.0
    retry_after_s: int = 5

    def __post_init__(self) -> None:
        self._audit = AuditTrail(self.publisher, source=self.source, clock=self.clock)

    def view(self, tenant: str, budget: BudgetConfigured) -> BudgetView:
        found = self.ledger.spend(tenant, budget.budget_id)
        assert found is not None
        lower = self.ledger.lower_bound(tenant, budget.budget_id)
        return BudgetView(
            budget=budget, period_start=found[0], spent=found[1], reserved=found[2], spent_lower_bound=lower
        )

    def get(self, tenant: str, budget_id: str) -> BudgetView:
        budget = self.ledger.budget(tenant, budget_id)
        if budget is None:
            raise ProblemError(404, "Not Found", f"no budget {budget_id!r} in this tenant")
        return self.view(tenant, budget)

    def list(self, tenant: str) -> list[BudgetView]:
        return [self.view(tenant, b) for b in sorted(self.ledger.budgets(tenant), key=lambda b: b.budget_id)]

    async def put(self, tenant: str, actor: Actor, budget_id: str, body: BudgetIn) -> BudgetView:
        previous = self.ledger.budget(tenant, budget_id)
        try:
            budget = BudgetConfigured(
                budget_id=budget_id, version=previous.version + 1 if previous else 1, updated_by=actor.id,
                updated_at=self.clock(), **body.model_dump(),
            )  # fmt: skip
        except ValidationError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc.errors()[0]["msg"])) from None
        event = CloudEvent.wrap(budget, source=self.source, tenant_id=tenant, key_id=actor.key_id)
        details: dict[str, JsonValue] = {"limit": str(budget.limit), "period": budget.period, "action": budget.action}
        try:
            await asyncio.wait_for(
                self._audit.publish_with(
                    tenant, actor, action="budget.set", resource=("budget", budget_id), details=details, events=[event]
                ),
                self.publish_timeout_s,
            )
        except (TimeoutError, OSError) as exc:
            raise ProblemError(
                503, "Service Unavailable", f"Kafka did not store the budget: {type(exc).__name__}",
                retry_after=self.retry_after_s,
            ) from None  # fmt: skip
        self.ledger.put(tenant, budget)
        return self.view(tenant, budget)
