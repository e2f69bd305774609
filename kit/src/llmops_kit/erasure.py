"""Erase a data subject from the state a service keeps on compacted topics (docs/adr/0044).

A service that holds subject data in compacted topics (review items, dataset examples) erases in two passes:

1. on the request (``llmops.erasure.requested.v2``), the records that name the subject themselves: a call id
   (review items and examples made from that call), or an e-mail address or keyed hash written in their text;
2. on the warehouse's receipt (``llmops.erasure.processed.v2``, ``service="warehouse"``), the records made from
   any of the calls the warehouse erased for the request, which it lists (``GET /v1/erasures/{id}/calls``): a
   review item or an example carries the call id, not the user, session or e-mail the call belonged to.

Each pass publishes a tombstone per record (compaction then drops the record and every older value of its key)
and forgets the record at once, so the API stops serving it before the tombstone comes back from Kafka. After
the second pass the service publishes its own receipt (counts per store, zero included) with an audit entry
(``erasure.erase``, the counts, no subject value). The receipt's event
id is derived from the request, so one redelivered after a crash is dropped by every sink that deduplicates on
event ids (the warehouse does); a redelivered request or receipt finds nothing left to tombstone.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from llmops_schemas import CloudEvent
from llmops_schemas.v2 import ErasureProcessed, ErasureRequested
from llmops_schemas.v2.erasure import ErasureSubjectType
from pydantic import JsonValue

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import ErasedCallsPage

__all__ = [
    "ErasableState",
    "ErasedCalls",
    "ErasedCallsPage",
    "ErasureLimits",
    "ErasureWorker",
    "Held",
    "ProducerTombstones",
    "Tombstones",
    "names_subject",
    "receipt_event_id",
]

log = logging.getLogger(__name__)

WAREHOUSE = "warehouse"
_RECEIPT_NAMESPACE = uuid.UUID("5d0c6f64-6c6d-4f70-8a73-657261737572")


@dataclass(frozen=True, slots=True)
class Held:
    """One record of a compacted topic that holds the subject's data: the store it counts under and its key."""

    store: str
    topic: str
    key: str


class ErasableState(Protocol):
    """The materialised state of a service's compacted topics, as erasure sees it."""

    stores: tuple[str, ...]
    """The stores a receipt counts, each one always (zero when the subject is not held there)."""

    @property
    def caught_up(self) -> bool:
        """Whether the state holds the topics as they were at start (matching part of it would miss records)."""
        ...

    def holding_subject(self, tenant: str, subject_type: ErasureSubjectType, value: str) -> list[Held]:
        """The records that name the subject themselves (its call id, its e-mail address in their text...)."""
        ...

    def holding_calls(self, tenant: str, call_ids: frozenset[str]) -> list[Held]:
        """The records made from any of ``call_ids``."""
        ...

    def forget(self, tenant: str, held: Sequence[Held]) -> None:
        """Drop ``held`` from the state now (their tombstones are on the log; the materialiser sees them later)."""
        ...


class Tombstones(Protocol):
    """Publishes tombstones (a key with no value) on compacted topics, acknowledged by Kafka when it returns."""

    async def write(self, records: Sequence[tuple[str, str]]) -> None:
        """One tombstone per ``(topic, key)``."""
        ...


class ErasedCalls(Protocol):
    """The calls the warehouse erased for a request (``WarehouseReader.erased_calls`` over HTTP)."""

    async def erased_calls(
        self, tenant: str, request_id: str, *, cursor: str | None = None, limit: int = 1000
    ) -> ErasedCallsPage | None:
        """One page of them; None while the warehouse has not processed the request (its route answers 404)."""
        ...


class ProducerTombstones:
    """:class:`Tombstones` over the kit's producer."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def write(self, records: Sequence[tuple[str, str]]) -> None:
        await self._producer.send_many([(topic, key.encode(), None, ()) for topic, key in records])


@dataclass(frozen=True, slots=True)
class ErasureLimits:
    """Bounds of the erasure worker (each service's ``*_ERASURE_*`` settings)."""

    page_size: int = 1000
    """Call ids asked of the warehouse per page."""
    max_calls: int = 1_000_000
    """Call ids read for one request; beyond it the receipt says ``failed`` (nothing is silently skipped)."""
    max_pending: int = 10_000
    """Requests whose first-pass counts wait in memory for the warehouse's receipt."""
    purge_after: timedelta = timedelta(days=1)
    """Until a tombstone is compacted away with the values it deletes (the topics' ``delete.retention.ms``)."""


def names_subject(subject_type: ErasureSubjectType, value: str, call_id: str | None, texts: Iterable[str]) -> bool:
    """Whether a record made from ``call_id`` and holding ``texts`` names the subject itself: its call, or its
    e-mail address or keyed hash anywhere in the text (whatever the case). A record never carries a user or a
    session id: those are found through the calls the warehouse erased."""
    if subject_type == "call_id":
        return call_id == value
    if subject_type in ("email", "hashed_id"):
        wanted = value.casefold()
        return any(wanted in text.casefold() for text in texts)
    return False


def receipt_event_id(tenant: str, request_id: str, service: str) -> str:
    """The receipt's event id: the same for every redelivery of one request, so sinks drop a second one."""
    return str(uuid.uuid5(_RECEIPT_NAMESPACE, f"{tenant}\x00{request_id}\x00{service}"))


class ErasureWorker:
    """Handles erasure requests and the warehouse's receipts for one service (a consumer loop's handler)."""

    def __init__(
        self,
        *,
        service: str,
        source: str,
        state: ErasableState,
        tombstones: Tombstones,
        publisher: EventPublisher,
        calls: ErasedCalls | None,
        limits: ErasureLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._source = source
        self._state = state
        self._tombstones = tombstones
        self._publisher = publisher
        self._calls = calls
        self._limits = limits or ErasureLimits()
        self._clock = clock
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._pending: OrderedDict[tuple[str, str], Counter[str]] = OrderedDict()

    async def handle(self, events: Sequence[CloudEvent[Any]]) -> None:
        """Act on each event in order (others' receipts, this service's own included, are ignored)."""
        if not self._state.caught_up:
            raise TransientError("the state is still loading; erasing part of it would miss records")
        # Requests first: a batch holding a request and the warehouse's receipt of it counts both passes.
        for event in sorted(events, key=lambda e: not isinstance(e.data, ErasureRequested)):
            data = event.data
            if isinstance(data, ErasureRequested):
                await self._on_request(event.tenant_id, data)
            elif isinstance(data, ErasureProcessed) and data.service == WAREHOUSE:
                await self._on_warehouse_receipt(event.tenant_id, data)

    async def _on_request(self, tenant: str, request: ErasureRequested) -> None:
        held = self._state.holding_subject(tenant, request.subject_type, request.subject_value)
        await self._erase(tenant, held)
        counts = self._pending.setdefault((tenant, request.request_id), Counter())
        counts.update(h.store for h in held)
        self._pending.move_to_end((tenant, request.request_id))
        while len(self._pending) > self._limits.max_pending:
            (_, dropped), _ = self._pending.popitem(last=False)
            log.warning("erasure request %s waited too long for the warehouse; its first-pass counts are lost", dropped)

    async def _on_warehouse_receipt(self, tenant: str, receipt: ErasureProcessed) -> None:
        # Kept until the receipt is out: a pass interrupted by the warehouse (a retried batch) adds to the same
        # counts, since what it already tombstoned is not found again.
        counts = self._pending.setdefault((tenant, receipt.request_id), Counter())
        error: str | None = None
        if receipt.status == "failed":
            error = "the warehouse could not erase the subject's calls; records made from them are kept"
        elif self._calls is None:
            error = "no warehouse configured (LLMOPS_WAREHOUSE_URL): records made from the subject's calls are kept"
        else:
            error = await self._erase_calls(tenant, receipt.request_id, counts)
        await self._publish_receipt(tenant, receipt, counts, error)
        self._pending.pop((tenant, receipt.request_id), None)

    async def _erase_calls(self, tenant: str, request_id: str, counts: Counter[str]) -> str | None:
        """Page through the erased calls, erasing what was made from each page; an error text past the bound."""
        assert self._calls is not None
        cursor: str | None = None
        seen = 0
        while True:
            page = await self._calls.erased_calls(tenant, request_id, cursor=cursor, limit=self._limits.page_size)
            if page is None:
                raise TransientError(f"the warehouse has not listed the calls of erasure {request_id} yet")
            seen += len(page.call_ids)
            if seen > self._limits.max_calls:
                return f"more than {self._limits.max_calls} erased calls; records made from the rest are kept"
            held = self._state.holding_calls(tenant, frozenset(page.call_ids))
            await self._erase(tenant, held)
            counts.update(h.store for h in held)
            if not page.next_cursor:
                return None
            cursor = page.next_cursor

    async def _erase(self, tenant: str, held: Sequence[Held]) -> None:
        if held:
            await self._tombstones.write([(h.topic, h.key) for h in held])
            self._state.forget(tenant, held)

    async def _publish_receipt(
        self, tenant: str, warehouse: ErasureProcessed, counts: Counter[str], error: str | None
    ) -> None:
        now = self._clock()
        full = {store: counts.get(store, 0) for store in self._state.stores}
        receipt = ErasureProcessed(
            request_id=warehouse.request_id,
            service=self._service,
            subject_type=warehouse.subject_type,
            status="failed" if error else "completed",
            counts=full,
            rows_affected=sum(full.values()),
            purge_deadline=now + self._limits.purge_after,
            error=error,
            completed_at=now,
        )
        event_id = receipt_event_id(tenant, warehouse.request_id, self._service)
        event = CloudEvent.wrap(receipt, source=self._source, tenant_id=tenant, event_id=event_id)
        details: dict[str, JsonValue] = {"status": receipt.status, "counts": dict(full)}
        await self._audit.publish_with(
            tenant, Actor(key_id=f"{self._service}-erasure"), action="erasure.erase",
            resource=("erasure", warehouse.request_id), details=details, events=[event],
            outcome="failure" if error else "success",
        )  # fmt: skip
