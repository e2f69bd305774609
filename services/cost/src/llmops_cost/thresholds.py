"""Budget threshold events exactly once across replicas and restarts: the owner of the tenant's partition decides.

Every replica's ledger counts every cost event, so every replica sees every crossing. Only one may publish it:
the replicas form a consumer group (``COST_THRESHOLDS_GROUP``) on ``llmops.budgets.events``, which is keyed by
tenant, and a replica publishes the crossings of the tenants whose partition it owns (:class:`Ownership`). It
owns a partition once it has read it from its beginning up to where it ended at the assignment, so it knows every
event already sent there, by an earlier owner too. On a revocation it lets the publish in flight finish before
the partition goes (a rebalance waits for that), so the next owner reads it; on an assignment it takes the
crossings of the partition's tenants from the ledger again, since those seen while another replica owned them
were left to that one. Nothing is committed: each assignment reads the partition from its beginning.

The ids stay derived from tenant, budget, period and threshold (:func:`state_event_id`): a replica that lost the
group without knowing it (paused past the session timeout) can still publish once more, under the same id, which
the warehouse and alerting keep once (docs/adr/0052).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from llmops_kit.budgets import BudgetLedger, Crossing
from llmops_kit.kafka.ownership import PartitionOwnership
from llmops_kit.kafka.ownership import partition_of as kit_partition_of
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.settings import KafkaSecurity
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v1 import BudgetStateChanged

__all__ = ["Ownership", "ThresholdNotifier", "partition_of", "state_event_id"]

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("8f0c2a52-3b7e-4c1d-9a8e-2f6d4b1c7e90")


def state_event_id(tenant: str, budget_id: str, period_start: datetime, kind: str, threshold: float | None) -> str:
    """The one id of a budget's state change in a period (its threshold crossed, or exceeded)."""
    name = "\x1f".join((tenant, budget_id, period_start.isoformat(), kind, str(threshold)))
    return str(uuid.uuid5(_NAMESPACE, name))


def partition_of(tenant: str, partitions: int) -> int:
    """The partition of ``llmops.budgets.events`` the tenant's events go to (the producer's murmur2 on the key)."""
    return kit_partition_of(tenant.encode(), partitions)


class Ownership(PartitionOwnership):
    """The partitions of ``llmops.budgets.events`` this replica owns, and the event ids already on them."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str,
        security: KafkaSecurity | None = None,
        client_id: str = "cost-thresholds",
        poll_timeout_ms: int = 500,
    ) -> None:
        super().__init__(
            bootstrap_servers, topic=BudgetStateChanged.topic, group_id=group_id, security=security,
            client_id=client_id, on_record=self._apply, poll_timeout_ms=poll_timeout_ms,
        )  # fmt: skip
        self.ids: set[str] = set()

    def owns(self, tenant: str) -> bool:
        return self.owns_key(tenant.encode())

    def _apply(self, _key: bytes | None, value: bytes | None) -> None:
        try:
            self.ids.add(parse_event(value or b"").id)
        except EventValidationError as exc:
            log.warning("ignoring an invalid budget event: %s", exc)


class ThresholdNotifier:
    """Queues crossings (from the feed's callback) and publishes those of owned tenants not sent yet."""

    def __init__(
        self,
        publisher: EventPublisher,
        owner: Ownership,
        ledger: BudgetLedger,
        ready: Callable[[], Awaitable[None]],
        *,
        source: str,
        clock: Callable[[], datetime],
        max_pending: int = 100_000,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self._publisher, self._owner, self._ledger, self._ready = publisher, owner, ledger, ready
        self._source, self._clock, self._stop_timeout_s = source, clock, stop_timeout_s
        self._pending: asyncio.Queue[Crossing] = asyncio.Queue(max_pending)
        self._publishing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.published = 0
        owner.on_owned, owner.before_revoke = self.took_over, self.quiesce

    def crossed(self, crossings: list[Crossing]) -> None:
        for crossing in crossings:
            try:
                self._pending.put_nowait(crossing)
            except asyncio.QueueFull:  # the next start (or assignment) derives it again from the ledger
                log.error("budget events queue full: a threshold event waits for the next start")

    def took_over(self, partition: int) -> None:
        """This replica now owns ``partition``: its tenants' crossings are decided here from now on."""
        for tenant in self._ledger.tenants():
            if partition_of(tenant, self._owner.partitions) == partition:
                self.crossed(self._ledger.crossings(tenant))

    async def quiesce(self) -> None:
        """Return once no publish is in flight (ownership was already narrowed, so none starts after)."""
        if self._stopped:
            return
        async with self._publishing:
            return

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
        """Let a publish in flight land (bounded), then stop: a replica leaving the group never publishes late."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._publishing.acquire(), self._stop_timeout_s)
        self._stopped = True  # holding the lock: nothing is published any more
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        await self._ready()  # the spend of the current periods: never decide on half of it
        while True:
            crossing = await self._pending.get()
            if self._owner.owns(crossing.tenant):
                await self._publish(self.event(crossing))

    async def _publish(self, event: CloudEvent[Any]) -> None:
        while True:
            async with self._publishing:
                if not self._owner.owns(event.tenant_id) or event.id in self._owner.ids:
                    return  # another replica decides now, or it was sent
                try:
                    await self._publisher.publish_many([event])
                except Exception as exc:  # Kafka down: keep it, try again
                    log.warning("publishing a budget event failed (%s); retrying", type(exc).__name__)
                else:
                    self._owner.ids.add(event.id)
                    self.published += 1
                    return
            await asyncio.sleep(1.0)
