"""The warehouse's part of an erasure: process each request once, screen every insert against the ledger.

For a request (``llmops.erasure.requested.v2``): a known request id only repeats its deletes and republishes
the receipt it recorded (same event id: a redelivery neither erases twice nor publishes a second receipt);
a new one is planned (call ids recorded, rows counted), recorded in the ledger with its receipt, deleted, then
the receipt is published (``llmops.erasure.processed.v2``). The consumer commits the request's offset only after
all of that. The request itself is stored with the keyed digest in place of the subject's value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from llmops_kit.kafka.consumer import Delivery
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import ErasureProcessed, ErasureRequested

from llmops_warehouse.concurrent_store import ConcurrentEventStore
from llmops_warehouse.erasure.clickhouse import ClickHouseErasures
from llmops_warehouse.erasure.ledger import Ledger, LedgerEntry
from llmops_warehouse.erasure.purge import PurgeBound
from llmops_warehouse.erasure.screen import screen
from llmops_warehouse.erasure.subjects import normalise
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.handlers import Item

__all__ = ["REQUESTS_TABLE", "SERVICE", "Eraser", "digest_label"]

log = logging.getLogger(__name__)
SERVICE = "warehouse"
REQUESTS_TABLE = "erasure_requests"
_REFRESH_MARGIN_MS = 60_000


def digest_label(digest: str) -> str:
    """What a stored request holds in place of the subject's value."""
    return f"hmac-sha256:{digest}"


def _now() -> datetime:
    return datetime.now(UTC)


class Eraser:
    """Erasure requests in, receipts out; the ledger every batch is screened against."""

    def __init__(
        self,
        store: ConcurrentEventStore,
        erasures: ClickHouseErasures,
        ledger: Ledger,
        publisher: EventPublisher,
        purge: PurgeBound,
        *,
        source: str = "/services/warehouse",
        skew: timedelta = timedelta(minutes=5),
        refresh_s: float = 5.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store, self._erasures, self.ledger = store, erasures, ledger
        self._publisher, self._purge, self._source = publisher, purge, source
        self._skew, self._refresh_s, self._clock = skew, refresh_s, clock
        self._loaded_ms = 0
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """A lifespan component: the ledger is loaded before the consumer starts, then kept up to date with what
        other replicas record."""
        await self.load()
        self._refresher = asyncio.create_task(self._refresh(), name="erasure-ledger-refresh")

    async def stop(self) -> None:
        await cancel_and_wait([self._refresher])
        self._refresher = None

    async def load(self, since_ms: int = 0) -> None:
        """Add to the in-memory ledger what ClickHouse recorded since ``since_ms`` (0: everything, at start)."""
        loaded_at = int(self._clock().timestamp() * 1000)
        entries = await self._store.run_read(lambda: self._erasures.entries(since_ms))
        calls = await self._store.run_read(lambda: self._erasures.erased_calls(since_ms))
        for entry in entries:
            self.ledger.add(entry)
        for tenant, call_id in calls:
            self.ledger.add_calls(tenant, [call_id])
        self._loaded_ms = loaded_at
        if since_ms == 0 or entries:
            log.info("erasure ledger: %d requests, %d erased calls loaded", len(entries), len(calls))

    async def _refresh(self) -> None:
        """Re-read what was recorded since the last look (with a margin for rows in flight): another replica may
        have processed a request whose subject this one's partitions carry."""
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.load(max(self._loaded_ms - _REFRESH_MARGIN_MS, 1))
            except Exception:
                log.warning("erasure ledger refresh failed; retrying", exc_info=True)

    async def handle(self, deliveries: Sequence[Delivery[Item]]) -> list[Delivery[Item]]:
        """Process the batch's requests, then drop what the ledger erased; the deliveries left to store."""
        processed = [await self._request(d) if _is_request(d.item) else d for d in deliveries]
        kept, late = screen(processed, self.ledger)
        if late:
            await self._store.run_write(lambda: self._erasures.add_calls(late))
            for tenant, _, call_id in late:
                self.ledger.add_calls(tenant, [call_id])
        return kept

    async def _request(self, delivery: Delivery[Item]) -> Delivery[Item]:
        item = delivery.item
        assert isinstance(item, StoredEvent)
        request: ErasureRequested = item.payload
        tenant = item.tenant_id
        subject_type = request.subject_type
        digest = self.ledger.digest(tenant, subject_type, normalise(subject_type, request.subject_value))
        entry = await self._store.run_read(lambda: self._erasures.entry(tenant, request.request_id))
        if entry is None:
            entry = await self._plan(tenant, request, digest)
        args = (tenant, request.request_id, request.subject_type, request.subject_value)
        await self._store.run_write(lambda: self._erasures.delete(*args))
        call_ids = await self._store.run_read(lambda: self._erasures.calls_of(tenant, request.request_id))
        self.ledger.add(entry, call_ids)
        await self._publisher.publish_many([self._receipt(entry)])
        stored = request.model_copy(update={"subject_value": digest_label(digest)})
        return Delivery(delivery.message, dataclasses.replace(item, payload=stored))

    async def _plan(self, tenant: str, request: ErasureRequested, digest: str) -> LedgerEntry:
        args = (tenant, request.request_id, request.subject_type, request.subject_value)
        counts = await self._store.run_write(lambda: self._erasures.plan(*args))
        now = self._clock()
        entry = LedgerEntry(
            tenant_id=tenant,
            request_id=request.request_id,
            subject_type=request.subject_type,
            subject_digest=digest,
            cutoff=now + self._skew,
            receipt_id=str(uuid.uuid4()),
            counts=counts,
            purge_deadline=now + self._purge.bound(counts),
            completed_at=now,
        )
        await self._store.run_write(lambda: self._erasures.record(entry))
        return entry

    def _receipt(self, entry: LedgerEntry) -> CloudEvent[ErasureProcessed]:
        receipt = ErasureProcessed(
            request_id=entry.request_id,
            service=SERVICE,
            subject_type=entry.subject_type,
            status="completed",
            counts=entry.counts,
            rows_affected=sum(entry.counts.values()),
            purge_deadline=_aware(entry.purge_deadline),
            completed_at=_aware(entry.completed_at),
        )
        return CloudEvent.wrap(
            receipt,
            source=self._source,
            tenant_id=entry.tenant_id,
            event_id=entry.receipt_id,
            subject=f"erasure/{entry.request_id}",
        )


def _is_request(item: Item) -> bool:
    return isinstance(item, StoredEvent) and item.table == REQUESTS_TABLE and item.payload is not None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
