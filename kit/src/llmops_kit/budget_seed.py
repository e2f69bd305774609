"""Seeds a :class:`~llmops_kit.budgets.BudgetLedger` with the cost events Kafka no longer holds, from the warehouse.

``llmops.costs.recorded`` keeps 14 days: a monthly or total budget counted from the topic alone misses its
period's older spend after a restart. :class:`BudgetSeeder` reads that older stretch of ``cost_records`` through
the warehouse's generic read (the kit's one client, :class:`~llmops_kit.warehouse.HistoryReader`) and hands each
event to the same counting path as Kafka's records; the ledger counts each cost event id once per budget, so
rows the topic also replays change nothing (docs/adr/0038).

Bounded: at most ``max_events`` rows per tenant and ``timeout_s`` per seed. A read cut short, refused or timed
out leaves the budgets it was for marked as a **lower bound** (:meth:`BudgetLedger.lower_bound`), logged and shown
in the budget's status; it never fails the process, and the gateway's check never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from llmops_schemas.v2 import CostRecorded
from pydantic import ValidationError

from llmops_kit.budgets import BudgetLedger, Crossing, period_start
from llmops_kit.warehouse import HistoryError, HistoryReader, HistoryRows, HistoryUnavailable

__all__ = ["TABLE", "BudgetSeeder"]

log = logging.getLogger(__name__)

TABLE = "cost_records"
"""The warehouse table of ``llmops.costs.recorded``."""

_OVERLAP = timedelta(days=1)
"""Read this far into what Kafka holds: the ledger's dedup makes the overlap harmless, a gap would not be."""


class BudgetSeeder:
    """Counts, once per budget, each cost event of the budgets' current periods older than what Kafka holds.

    ``count(tenant, event_id, data)`` is the feed's counting path (it forwards the crossings); ``kafka_holds``
    is the cost topic's retention. A budget whose period starts within it needs no seed.
    """

    def __init__(
        self,
        ledger: BudgetLedger,
        reader: HistoryReader,
        count: Callable[[str, str, CostRecorded], list[Crossing]],
        *,
        max_events: int = 100_000,
        timeout_s: float = 60.0,
        kafka_holds: timedelta = timedelta(days=14),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledger = ledger
        self._reader = reader
        self._count = count
        self.max_events = max_events
        self.timeout_s = timeout_s
        self.kafka_holds = kafka_holds
        self._now = now

    def _needs(self, tenant: str, now: datetime) -> list[tuple[str, datetime]]:
        """The tenant's budgets whose current period starts before what Kafka holds, with that start."""
        horizon = now - self.kafka_holds
        starts = [(b.budget_id, period_start(now, b.period)) for b in self.ledger.budgets(tenant)]
        return [(budget_id, start) for budget_id, start in starts if start < horizon]

    async def seed_all(self) -> None:
        """Seed every tenant with budgets (at start, once the budgets are loaded), all within ``timeout_s``."""
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        for tenant in self.ledger.tenants():
            await self.seed(tenant, deadline=deadline)

    async def seed(self, tenant: str, budget_id: str | None = None, *, deadline: float | None = None) -> None:
        """Seed one tenant's budgets (or one of them, a budget defined later) before ``deadline`` (the loop's
        clock; default: ``timeout_s`` from now); never raises."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s if deadline is None else deadline
        now = self._now()
        needs = [(b, s) for b, s in self._needs(tenant, now) if budget_id is None or b == budget_id]
        if not needs:
            return
        start, end = min(s for _, s in needs), now - self.kafka_holds + _OVERLAP
        ids = [b for b, _ in needs]
        params = {"start": start.isoformat(), "end": end.isoformat()}
        try:
            async with asyncio.timeout_at(deadline):
                found = await self._read(tenant, params)
        except TimeoutError:
            reason = f"the seed's time limit ({self.timeout_s:g} s) passed before the warehouse answered"
            return self._partial(tenant, ids, reason)
        except HistoryError as exc:
            return self._partial(tenant, ids, f"the warehouse refused the read ({exc})")
        counted = sum(self._apply(tenant, row) for row in found.rows)
        log.info("budgets of tenant %s seeded with %d cost events from the warehouse", tenant, counted)
        if found.truncated:
            # Rows come newest first: the oldest of the period are the ones missing.
            self._partial(tenant, ids, f"more than {self.max_events} cost events before Kafka's {self.kafka_holds}")

    async def _read(self, tenant: str, params: dict[str, str]) -> HistoryRows:
        """The read, tried again while the warehouse is unavailable (it may start after this process); the
        caller's timeout ends the tries."""
        while True:
            try:
                return await self._reader.read(tenant, TABLE, params, self.max_events)
            except HistoryUnavailable as exc:
                log.info("the warehouse is not answering yet (%s); the budget seed tries again", exc)
                await asyncio.sleep(min(exc.retry_after_s, self.timeout_s))

    def _apply(self, tenant: str, row: dict[str, object]) -> bool:
        try:
            data = CostRecorded.model_validate(row["data"])
            event_id = str(row["event_id"])
        except (KeyError, ValidationError) as exc:
            log.warning("ignoring an unreadable cost record from the warehouse: %s", exc)
            return False
        self._count(tenant, event_id, data)
        return True

    def _partial(self, tenant: str, budget_ids: list[str], reason: str) -> None:
        log.warning("budgets %s of tenant %s count only part of their period: %s", budget_ids, tenant, reason)
        for budget_id in budget_ids:
            self.ledger.mark_lower_bound(tenant, budget_id, reason)
