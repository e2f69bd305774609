"""Ports of the warehouse domain: what the HTTP app and the consumer need from storage.

:class:`EventStore` is the synchronous storage port (ClickHouse, or the in-memory fake in unit tests; one
contract suite runs against both). :class:`AsyncEventStore` is what handlers and routes depend on: the same
operations awaited from the event loop (:class:`~llmops_warehouse.concurrent_store.ConcurrentEventStore`
runs an :class:`EventStore` on worker threads, reads beside writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from llmops_warehouse.call_events import CallEvent
from llmops_warehouse.events import EventPage, EventQuery, StoredEvent
from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)

__all__ = ["AsyncEventStore", "EventStore"]


@runtime_checkable
class EventStore(Protocol):
    """Where stored events are kept and queried. Every read is scoped to one tenant.

    Implementations are synchronous and safe to call from several threads at once: one writer (the
    consumer) and any number of readers (queries), which must not wait for the writer.
    """

    def insert_calls(self, events: Sequence[CallEvent]) -> int:
        """Store a batch of ``call.recorded`` events; return how many rows were actually written.

        Events come as pydantic ``CloudEvent[CallRecorded]`` or as the derived struct the consumer decodes
        (:mod:`llmops_warehouse.call_events`); the store converts them to the form it works on.

        Idempotent on ``(tenant_id, event id)``: an event already stored, or repeated within the batch, is
        skipped, so a redelivered event never becomes a second row nor counts twice in the metrics rollup.
        Raises :class:`~llmops_warehouse.models.InvalidEventError` (before writing anything) when an event id
        is not a UUID. If it raises otherwise (or the process dies in it), part of the batch may be stored
        already, in the calls and not yet in the rollup; retrying the whole batch is safe: the stored events
        are skipped, and the rollup counts them once, whichever of the two had them (docs/adr/0064).
        """
        ...

    def insert_events(self, events: Sequence[StoredEvent]) -> int:
        """Store events (and tombstone markers) into their tables; return how many rows were written.

        Idempotent on ``(table, tenant_id, event id)`` like :meth:`insert_calls`. Raises ``ValueError``
        (before writing anything) for a table that is not mapped.
        """
        ...

    def read_events(self, q: EventQuery) -> EventPage:
        """A page of the tenant's events of ``q.table``, newest first; follow ``next_cursor`` for the next.

        Raises :class:`~llmops_warehouse.models.InvalidCursorError` for a cursor it did not issue and
        ``ValueError`` for a table that is not mapped or a filter the table does not have.
        """
        ...

    def list_calls(self, q: CallQuery) -> CallPage:
        """A page of the tenant's calls matching ``q``, newest first; follow ``next_cursor`` for the next page.

        Raises :class:`~llmops_warehouse.models.InvalidCursorError` for a cursor it did not issue.
        """
        ...

    def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        """The tenant's call with this client call id (the most recent one should the id repeat), or None."""
        ...

    def summary(self, q: MetricsQuery) -> list[SummaryRow]:
        """Counts, error rate, tokens and latency quantiles per group over the window; [] when no calls."""
        ...

    def timeseries(self, q: TimeseriesQuery) -> list[TimeseriesPoint]:
        """The same metrics per time bucket and group; buckets without calls are left out."""
        ...

    def ping(self) -> bool:
        """True when the storage answers (readiness probe); never raises."""
        ...


class AsyncEventStore(Protocol):
    """The :class:`EventStore` operations, awaited. A storage outage raises ``TransientError``."""

    async def insert_calls(self, events: Sequence[CallEvent]) -> int:
        """See :meth:`EventStore.insert_calls`."""
        ...

    async def insert_events(self, events: Sequence[StoredEvent]) -> int:
        """See :meth:`EventStore.insert_events`."""
        ...

    async def read_events(self, q: EventQuery) -> EventPage:
        """See :meth:`EventStore.read_events`."""
        ...

    async def list_calls(self, q: CallQuery) -> CallPage:
        """See :meth:`EventStore.list_calls`."""
        ...

    async def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        """See :meth:`EventStore.get_call`."""
        ...

    async def summary(self, q: MetricsQuery) -> list[SummaryRow]:
        """See :meth:`EventStore.summary`."""
        ...

    async def timeseries(self, q: TimeseriesQuery) -> list[TimeseriesPoint]:
        """See :meth:`EventStore.timeseries`."""
        ...

    async def ping(self) -> bool:
        """See :meth:`EventStore.ping`."""
        ...
