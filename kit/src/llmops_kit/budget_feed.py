"""Feeds a :class:`~llmops_kit.budgets.BudgetLedger` from Kafka: budget definitions, then the cost events.

:class:`BudgetFeed` is a lifespan component of two readers without a consumer group (every replica holds every
budget): ``llmops.budgets.config`` from its beginning (compacted), then, once every budget is known,
``llmops.costs.recorded`` from the start of the longest current budget period (``offsets_for_times``; a period
older than the topic's retention is counted from what the topic still holds, docs/adr/0038). A budget defined
later rewinds the cost reader to its period's start; the ledger counts each cost event once per budget, so
reading a stretch again changes nothing for the budgets that had it.

With a warehouse reader (``LLMOPS_WAREHOUSE_URL`` and a service key), a :class:`~llmops_kit.budget_seed.BudgetSeeder`
first counts the older part of each period, which the topic no longer holds, through the same path; without one a
monthly or total budget counts what the topic still holds (logged once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from llmops_schemas import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v1 import BudgetConfigured
from llmops_schemas.v2 import CostRecorded

from llmops_kit.budget_seed import BudgetSeeder
from llmops_kit.budgets import BudgetLedger, Crossing, period_start
from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.platform_client import WarehouseReader
from llmops_kit.settings import KafkaSecurity
from llmops_kit.tasks import cancel_and_wait

__all__ = ["BudgetFeed", "BudgetStore", "CostView"]

log = logging.getLogger(__name__)


class BudgetStore(CompactedStore):
    """``llmops.budgets.config`` folded into the ledger; a tombstone (``<tenant>:<budget_id>``) removes one."""

    topic = BudgetConfigured.topic

    def __init__(
        self, ledger: BudgetLedger, on_new: Callable[[str, BudgetConfigured], None] = lambda _t, _b: None
    ) -> None:
        super().__init__()
        self.ledger = ledger
        self._on_new = on_new

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, BudgetConfigured):
            known = self.ledger.budget(event.tenant_id, event.data.budget_id) is not None
            self.ledger.put(event.tenant_id, event.data)
            if not known and self.caught_up:
                self._on_new(event.tenant_id, event.data)

    def delete(self, key: str) -> None:
        tenant, _, budget_id = key.partition(":")
        self.ledger.remove(tenant, budget_id)


class CostView:
    """Cost records into the ledger: only a tenant with budgets is parsed (the record key is the tenant)."""

    def __init__(self, ledger: BudgetLedger, on_crossings: Callable[[list[Crossing]], None]) -> None:
        self.ledger = ledger
        self._on_crossings = on_crossings
        self.caught_up = False

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        if value is None or key is None or not self.ledger.has_budgets(key.decode()):
            return
        try:
            event = parse_event(value, expect=CostRecorded)
        except EventValidationError as exc:
            log.warning("ignoring an invalid cost record: %s", exc)
            return
        self.count(event.tenant_id, event.id, event.data)

    def count(self, tenant: str, event_id: str, data: CostRecorded) -> list[Crossing]:
        """Count one cost event (from the topic or the warehouse's seed) and report the thresholds it crossed."""
        crossings = self.ledger.record(tenant, event_id, data)
        if crossings:
            self._on_crossings(crossings)
        return crossings

    def mark_caught_up(self) -> None:
        self.caught_up = True


class _CostReader(CompactedTopicMaterializer):
    """A materialiser that starts at an instant instead of offset 0, and can be rewound to an earlier one."""

    def __init__(self, since: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._since = since
        self._rewind_to: datetime | None = None

    def rewind(self, since: datetime) -> None:
        self._rewind_to = since if self._rewind_to is None else min(since, self._rewind_to)

    async def _seek(self, since: datetime) -> None:
        assert self._consumer is not None
        partitions = list(self._consumer.assignment())
        found = await self._consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        ends = await self._consumer.end_offsets(partitions)
        for tp in partitions:
            at = found.get(tp)
            self._consumer.seek(tp, at.offset if at is not None else ends[tp])

    async def _connect(self) -> None:
        await super()._connect()
        await self._seek(self._since())
        await self._check_caught_up()

    async def _step(self) -> None:
        if self._rewind_to is not None and self._consumer is not None:
            since, self._rewind_to = self._rewind_to, None
            await self._seek(since)
        await super()._step()


class BudgetFeed:
    """The ledger's two readers, started in order: the cost reader only once the budgets are loaded."""

    def __init__(
        self,
        bootstrap_servers: str,
        ledger: BudgetLedger,
        *,
        on_crossings: Callable[[list[Crossing]], None] = lambda _: None,
        security: KafkaSecurity | None = None,
        client_id: str = "llmops-budgets",
        history: WarehouseReader | None = None,
        seed_max_events: int = 100_000,
        seed_timeout_s: float = 60.0,
    ) -> None:
        self.ledger = ledger
        self.costs = CostView(ledger, on_crossings)
        self.budgets = BudgetStore(ledger, on_new=self._on_new)
        self.seeder = (
            BudgetSeeder(ledger, history, self.costs.count, max_events=seed_max_events, timeout_s=seed_timeout_s)
            if history is not None
            else None
        )
        self._history = history  # this feed's own client: started and stopped with it
        self._seeds: set[asyncio.Task[None]] = set()
        self._config = CompactedTopicMaterializer(
            bootstrap_servers=bootstrap_servers, topic=BudgetConfigured.topic, view=self.budgets,
            client_id=client_id, security=security,
        )  # fmt: skip
        self._reader = _CostReader(
            self._earliest, bootstrap_servers=bootstrap_servers, topic=CostRecorded.topic, view=self.costs,
            client_id=client_id, security=security,
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    def _earliest(self) -> datetime:
        now = datetime.now(UTC)
        starts = [period_start(now, b.period) for t in self.ledger.tenants() for b in self.ledger.budgets(t)]
        return min(starts, default=now)

    def _on_new(self, tenant: str, budget: BudgetConfigured) -> None:
        """A budget defined after the start: its period from the warehouse (in the background), then the topic."""
        if self.seeder is not None:
            task = asyncio.get_running_loop().create_task(self.seeder.seed(tenant, budget.budget_id))
            self._seeds.add(task)
            task.add_done_callback(self._seeds.discard)
        self._reader.rewind(period_start(datetime.now(UTC), budget.period))

    @property
    def ready(self) -> bool:
        """Every budget loaded and the costs of their current periods counted."""
        return self.budgets.caught_up and self.costs.caught_up

    async def check(self) -> bool:
        return self.ready

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until :attr:`ready` (``True``) or ``timeout_s`` passed (``False``)."""
        return await self._reader.wait_ready(timeout_s)

    async def start(self) -> None:
        if self._history is not None:
            await self._history.start()
        await self._config.start()
        self._task = asyncio.create_task(self._start_costs(), name="budgets:costs")

    async def _start_costs(self) -> None:
        while not await self._config.wait_ready(60):
            log.info("budgets still loading; the cost reader waits")
        if self.seeder is not None:
            await self.seeder.seed_all()
        else:
            log.info("no warehouse configured: monthly and total budgets count only what the cost topic holds")
        await self._reader.start()

    async def stop(self) -> None:
        await cancel_and_wait([self._task, *self._seeds])
        await self._reader.stop()
        await self._config.stop()
        if self._history is not None:
            await self._history.stop()
