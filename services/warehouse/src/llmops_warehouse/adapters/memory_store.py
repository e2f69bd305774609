"""An in-memory :class:`~llmops_warehouse.ports.EventStore` for unit tests.

It behaves like :class:`~llmops_warehouse.adapters.clickhouse_store.ClickHouseEventStore` (the shared
contract suite in tests/unit/warehouse/event_store_contract.py runs against both): idempotent inserts,
tenant scoping, millisecond times, ClickHouse's ordering of UUIDs for ties, minute-resolution metrics.
Latency quantiles are exact (linear interpolation), which ClickHouse's ``quantiles`` also is up to 8,192
values per group.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

from llmops_warehouse.events import EventPage, EventQuery, EventRow, StoredEvent, next_cursor
from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    Cursor,
    InvalidEventError,
    Metrics,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
    epoch_ms,
    floor_minute,
)
from llmops_warehouse.tables import TABLES, EventTable, table_named, tables_by_name

__all__ = ["InMemoryEventStore", "clickhouse_uuid_key", "linear_quantiles"]

_QUANTILES = (0.5, 0.95, 0.99)
_MASK64 = (1 << 64) - 1


def clickhouse_uuid_key(event_id: str) -> tuple[int, int]:
    """Sort key ordering UUIDs as ClickHouse does: by their second 64-bit half first, then the first."""
    value = uuid.UUID(event_id).int
    return (value & _MASK64, value >> 64)


def linear_quantiles(values: Sequence[float], levels: Iterable[float] = _QUANTILES) -> list[float]:
    """Quantiles of ``values`` with linear interpolation between closest ranks (NaN when empty)."""
    ordered = sorted(values)
    if not ordered:
        return [math.nan for _ in levels]
    out: list[float] = []
    last = len(ordered) - 1
    for level in levels:
        position = level * last
        low = math.floor(position)
        high = min(low + 1, last)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return out


def _order_key(row: CallRow) -> tuple[int, tuple[int, int]]:
    return (epoch_ms(row.started_at), clickhouse_uuid_key(row.event_id))


def call_value(row: CallRow, name: str) -> Any:
    """The value of the ``calls`` column ``name`` for ``row`` (as the filters compare it)."""
    if name in ("prompt_name", "prompt_version"):
        return None if row.prompt is None else getattr(row.prompt, name.removeprefix("prompt_"))
    if name == "experiment_id":
        return None if row.experiment is None else row.experiment.experiment_id
    return getattr(row, name)


class InMemoryEventStore:
    """A dict-backed store with the behaviour of the ClickHouse one. Thread-safe."""

    def __init__(self, clock: Callable[[], datetime] | None = None, tables: Sequence[EventTable] = TABLES) -> None:
        self._rows: dict[tuple[str, str], CallRow] = {}
        self._events: dict[tuple[str, str, uuid.UUID], tuple[StoredEvent, EventRow]] = {}
        self._tables = tables_by_name(tables)
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.healthy = True
        """Set to False to make :meth:`ping` fail (to test readiness handling)."""

    def __len__(self) -> int:
        return len(self._rows)

    def insert_calls(self, events: Sequence[CloudEvent[CallRecorded]]) -> int:
        bad: list[str] = []
        for event in events:
            try:
                uuid.UUID(event.id)
            except ValueError:
                bad.append(event.id)
        if bad:
            raise InvalidEventError(f"event ids must be UUIDs; not storable: {', '.join(bad[:10])}", bad)
        now = self._clock()
        written = 0
        with self._lock:
            for event in events:
                row = CallRow.from_event(event, ingested_at=now)
                key = (row.tenant_id, row.event_id)
                if key in self._rows:
                    continue
                self._rows[key] = row
                written += 1
        return written

    def _tenant_rows(self, tenant_id: str) -> list[CallRow]:
        with self._lock:
            return [row for (tenant, _), row in self._rows.items() if tenant == tenant_id]

    def list_calls(self, q: CallQuery) -> CallPage:
        cursor = q.decoded_cursor()
        filters = q.equality_filters()
        needle = q.text.lower() if q.text is not None else None
        start_ms = epoch_ms(q.start) if q.start is not None else None
        end_ms = epoch_ms(q.end) if q.end is not None else None
        after = (cursor.started_at_ms, clickhouse_uuid_key(cursor.event_id)) if cursor is not None else None

        def matches(row: CallRow) -> bool:
            started = epoch_ms(row.started_at)
            if start_ms is not None and started < start_ms:
                return False
            if end_ms is not None and started >= end_ms:
                return False
            if any(call_value(row, name) != value for name, value in filters.items()):
                return False
            if needle is not None and needle not in row.searchable_text().lower():
                return False
            return after is None or _order_key(row) < after

        selected = sorted(filter(matches, self._tenant_rows(q.tenant_id)), key=_order_key, reverse=True)
        items = selected[: q.limit]
        next_cursor = Cursor.after(items[-1]).encode() if len(selected) > q.limit else None
        return CallPage(items=items, next_cursor=next_cursor)

    def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        found = [row for row in self._tenant_rows(tenant_id) if row.call_id == call_id]
        return max(found, key=_order_key) if found else None

    def _metric_rows(self, q: MetricsQuery) -> list[CallRow]:
        filters = q.equality_filters()
        return [
            row
            for row in self._tenant_rows(q.tenant_id)
            if q.start <= floor_minute(row.started_at) < q.end
            and all(call_value(row, name) == value for name, value in filters.items())
        ]

    def summary(self, q: MetricsQuery) -> list[SummaryRow]:
        groups: dict[str, list[CallRow]] = {}
        for row in self._metric_rows(q):
            groups.setdefault(_group_of(row, q), []).append(row)
        out = [
            _metrics(SummaryRow, rows, group=group if q.group_by != "none" else None) for group, rows in groups.items()
        ]
        return sorted(out, key=lambda r: (-r.calls, r.group or ""))

    def timeseries(self, q: TimeseriesQuery) -> list[TimeseriesPoint]:
        groups: dict[tuple[datetime, str], list[CallRow]] = {}
        for row in self._metric_rows(q):
            groups.setdefault((q.bucket_start(row.started_at), _group_of(row, q)), []).append(row)
        return [
            _metrics(TimeseriesPoint, rows, bucket_start=bucket, group=group if q.group_by != "none" else None)
            for (bucket, group), rows in sorted(groups.items())
        ]

    def insert_events(self, events: Sequence[StoredEvent]) -> int:
        for event in events:
            self._table(event.table)
        now = self._clock()
        written = 0
        with self._lock:
            for event in events:
                key = (event.table, event.tenant_id, event.event_id)
                if key not in self._events:
                    self._events[key] = (event, event.row(ingested_at=now))
                    written += 1
        return written

    def _table(self, name: str) -> EventTable:
        return table_named(self._tables, name)

    def read_events(self, q: EventQuery) -> EventPage:
        table = self._table(q.table)
        table.check_filters(q.filters)
        cursor = q.decoded_cursor()
        after = (cursor.started_at_ms, clickhouse_uuid_key(cursor.event_id)) if cursor is not None else None
        with self._lock:
            candidates = [
                v for (name, tenant, _), v in self._events.items() if name == q.table and tenant == q.tenant_id
            ]

        def matches(event: StoredEvent, row: EventRow) -> bool:
            if q.start is not None and event.time_ms < epoch_ms(q.start):
                return False
            if q.end is not None and event.time_ms >= epoch_ms(q.end):
                return False
            values = {c.name: c.extract(event.payload) if event.payload is not None else None for c in table.columns}
            if any(values[name] != value for name, value in q.filters.items()):
                return False
            return after is None or _event_key(row) < after

        selected = sorted((row for event, row in candidates if matches(event, row)), key=_event_key, reverse=True)
        items = selected[: q.limit]
        return EventPage(items=items, next_cursor=next_cursor(items, len(selected) > q.limit))

    def ping(self) -> bool:
        return self.healthy


def _event_key(row: EventRow) -> tuple[int, tuple[int, int]]:
    return (epoch_ms(row.time), clickhouse_uuid_key(row.event_id))


def _group_of(row: CallRow, q: MetricsQuery) -> str:
    return "" if q.group_by == "none" else str(getattr(row, q.group_by))


def _metrics(cls: type[Metrics], rows: list[CallRow], **extra: Any) -> Any:
    usages = [row.usage for row in rows if row.usage is not None]
    return cls.compute(
        calls=len(rows),
        errors=sum(1 for row in rows if row.status == "error"),
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
        latency_quantiles=linear_quantiles([row.latency_ms for row in rows]),
        **extra,
    )
