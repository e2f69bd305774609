"""Ports of the warehouse domain: what the HTTP app and the consumer need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)

__all__ = ["CallStore"]


@runtime_checkable
class CallStore(Protocol):
    """Where recorded calls are kept and queried. Every read is scoped to one tenant.

    Implementations are synchronous and safe to call from one thread at a time or several (they serialise
    access to their connection); async callers run them in a worker thread (``asyncio.to_thread``).
    """

    def insert_calls(self, events: Sequence[CloudEvent[CallRecorded]]) -> int:
        """Store a batch of ``call.recorded`` events; return how many rows were actually written.

        Idempotent on ``(tenant_id, event id)``: an event already stored, or repeated within the batch, is
        skipped, so a redelivered event never becomes a second row nor counts twice in the metrics rollup.
        Raises :class:`~llmops_warehouse.models.InvalidEventError` (before writing anything) when an event id
        is not a UUID. If it raises otherwise, part of the batch may be stored already; retrying the whole
        batch is safe (the stored events are skipped).
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
