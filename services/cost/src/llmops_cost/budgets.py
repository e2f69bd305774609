"""Budgets in the cost service: definitions through the API, threshold events exactly once.

Definitions are ``llmops.budget.configured.v1`` records on the compacted ``llmops.budgets.config`` (published with
their audit entry); the kit's :class:`~llmops_kit.budget_feed.BudgetFeed` keeps this process's ledger (spend per
current period, from the cost events) as every gateway replica does. :class:`ThresholdNotifier` publishes one
``llmops.budget.state_changed.v1`` per threshold a budget crosses in a period: its id is derived from the budget,
the period, and the threshold, and before publishing anything it reads ``llmops.budgets.events`` to learn what was
already sent. A crash between the crossing and the publish re-derives the crossing from the cost events at the
next start and sends it then; a crash after the publish finds it on the topic: never twice (docs/adr/0038).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.budgets import BudgetLedger, Crossing
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.materializer import CompactedStore
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetConfigured, BudgetScope, BudgetStateChanged
from llmops_schemas.v1.common import Amount, Currency, Name
from llmops_schemas.v1.cost import BudgetPeriod
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

__all__ = ["BudgetDesk", "BudgetIn", "BudgetView", "SentEvents", "ThresholdNotifier", "state_event_id"]

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("8f0c2a52-3b7e-4c1d-9a8e-2f6d4b1c7e90")


def state_event_id(tenant: str, budget_id: str, period_start: datetime, kind: str, threshold: float | None) -> str:
    """The one id of a budget's state change in a period (its threshold crossed, or exceeded)."""
    name = "\x1f".join((tenant, budget_id, period_start.isoformat(), kind, str(threshold)))
    return str(uuid.uuid5(_NAMESPACE, name))


class SentEvents(CompactedStore):
    """The ids of the budget events already on ``llmops.budgets.events`` (read from the beginning)."""

    topic = BudgetStateChanged.topic

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def apply(self, event: CloudEvent[Any]) -> None:
        self.ids.add(event.id)

    def delete(self, key: str) -> None:
        return None


class ThresholdNotifier:
    """Queues crossings (from the feed's callback) and publishes those not sent yet, once it may know."""

    def __init__(
        self,
        publisher: EventPublisher,
        sent: SentEvents,
        ready: Callable[[], Awaitable[None]],
        *,
        source: str,
        clock: Callable[[], datetime],
        max_pending: int = 100_000,
    ) -> None:
        self._publisher, self._sent, self._ready = publisher, sent, ready
        self._source, self._clock = source, clock
        self._pending: asyncio.Queue[Crossing] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def crossed(self, crossings: list[Crossing]) -> None:
        for crossing in crossings:
            try:
                self._pending.put_nowait(crossing)
            except asyncio.QueueFull:  # the next start derives it again from the cost events
                log.error("budget events queue full: a threshold event waits for the next start")

    def event(self, crossing: Crossing) -> CloudEvent[BudgetStateChanged]:
        budget = crossing.budget
        payload = BudgetStateChanged(
            budget_id=budget.budget_id, scope=budget.scope, period=budget.period, period_start=crossing.period_start,
            kind="threshold_crossed", threshold=crossing.threshold, limit=budget.limit, spent=crossing.spent,
            currency=budget.currency, occurred_at=self._clock(),
            message=f"{budget.name!r} reached {crossing.threshold:.0%} of {budget.limit} {budget.currency}",
        )  # fmt: skip
        event_id = state_event_id(
            crossing.tenant, budget.budget_id, crossing.period_start, "threshold_crossed", crossing.threshold
        )
        return CloudEvent.wrap(
            payload, source=self._source, tenant_id=crossing.tenant, event_id=event_id, subject=budget.budget_id
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="budgets:notify")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        await self._ready()  # what was sent, and the spend: never decide on half of either
        while True:
            event = self.event(await self._pending.get())
            if event.id in self._sent.ids:
                continue
            await self._publish(event)

    async def _publish(self, event: CloudEvent[BudgetStateChanged]) -> None:
        while True:
            try:
                await self._publisher.publish_many([event])
            except Exception as exc:  # Kafka down: keep it, try again
                log.warning("publishing a budget event failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            self._sent.ids.add(event.id)
            self.published += 1
            return


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
    thresholds: list[Annotated[float, Field(gt=0, le=1)]] = Field(default=[0.5, 0.8, 1.0], max_length=8)
    action: Literal["alert", "block"] = "alert"
    enabled: bool = True


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
