"""SQL shared by every table of the ClickHouse store: the dedup check, keyset pages and the event tables.

Every statement is parameterised with server-side ``{name:Type}`` bindings; the only text spliced in is
the database name (validated by the store), table names from :mod:`llmops_warehouse.tables` and column
names from fixed allow-lists.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from llmops_warehouse.events import EventPage, EventQuery, EventRow, StoredEvent, next_cursor
from llmops_warehouse.models import Cursor, epoch_ms, to_utc
from llmops_warehouse.tables import FILTERS, EventTable

__all__ = [
    "EVENT_INSERT_COLUMNS",
    "event_columns",
    "event_page",
    "event_values",
    "keyset",
    "stored_ids",
    "stored_keys",
    "window",
]

Query = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
"""Runs a SELECT with bound parameters and returns its rows."""

EVENT_INSERT_COLUMNS = (
    "event_id", "tenant_id", "event_type", "time", "source", "key_id", "subject", "trace_id", "record_key", "deleted",
    "payload",
)  # fmt: skip
"""The envelope columns every event table has (0004_event_tables.sql), then its filter columns."""
_EVENT_SELECT = (*EVENT_INSERT_COLUMNS, "ingested_at")


def stored_keys(
    query: Query, table: str, time_column: str, keys: Sequence[tuple[str, uuid.UUID]], times_ms: list[int]
) -> set[Any]:
    """Which of ``keys`` (tenant, event id) ``table`` holds already (:func:`stored_ids` of the ids' integers)."""
    found = stored_ids(query, table, time_column, [(tenant, event_id.int) for tenant, event_id in keys], times_ms)
    return {(tenant, uuid.UUID(int=value)) for tenant, value in found}


def stored_ids(
    query: Query, table: str, time_column: str, keys: Sequence[tuple[str, int]], times_ms: list[int]
) -> set[tuple[str, int]]:
    """Which of ``keys`` (tenant, event id as its 128-bit integer) ``table`` holds already.

    Bounded by the batch's time range (the stored copy of a redelivered event has the same time, so the
    same partition and primary-key range): it reads a few granules, not the tenant's whole history. Event
    ids travel as UInt128 integers: binding thousands of UUID strings costs more than the query itself.
    """
    rows = query(
        f"SELECT tenant_id, toUInt128(event_id) FROM {table}"  # noqa: S608 - table names come from the mapping
        " WHERE tenant_id IN {tenants:Array(String)}"
        f" AND {time_column} >= fromUnixTimestamp64Milli({{lo:Int64}}, 'UTC')"
        f" AND {time_column} <= fromUnixTimestamp64Milli({{hi:Int64}}, 'UTC')"
        " AND toUInt128(event_id) IN {ids:Array(UInt128)}",
        {
            "tenants": sorted({tenant for tenant, _ in keys}),
            "lo": min(times_ms),
            "hi": max(times_ms),
            "ids": _Integers({event_id for _, event_id in keys}),
        },
    )
    return {(tenant, value) for tenant, value in rows}


class _Integers:
    """A bound array of integers, formatted in one go.

    clickhouse-connect formats a list one Python call per element (for 20,000 ids about a microsecond per call,
    a fifth of the dedup check) and any value of a type it does not know with ``str``; the integers leave
    nothing to escape. The store contract suite's redelivery tests pin that the check still finds what it must.
    """

    __slots__ = ("_text",)

    def __init__(self, values: Iterable[int]) -> None:
        self._text = f"[{','.join(map(str, sorted(values)))}]"

    def __str__(self) -> str:
        return self._text


def keyset(time_column: str, cursor: Cursor | None, where: list[str], params: dict[str, Any]) -> None:
    """Add the condition that continues a newest-first page after ``cursor``."""
    if cursor is None:
        return
    # The first conjunct is implied by the second but lets the primary key prune.
    where.append(
        f"{time_column} <= fromUnixTimestamp64Milli({{cursor_ts:Int64}}, 'UTC')"
        f" AND ({time_column}, event_id) < (fromUnixTimestamp64Milli({{cursor_ts:Int64}}, 'UTC'), {{cursor_id:UUID}})"
    )
    params["cursor_ts"] = cursor.started_at_ms
    params["cursor_id"] = cursor.event_id


def window(time_column: str, start: Any, end: Any, where: list[str], params: dict[str, Any]) -> None:
    """Add ``start <= time < end`` (either bound optional)."""
    if start is not None:
        where.append(f"{time_column} >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')")
        params["start"] = epoch_ms(start)
    if end is not None:
        where.append(f"{time_column} < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')")
        params["end"] = epoch_ms(end)


def event_columns(table: EventTable) -> list[str]:
    """The insert columns of ``table``, in :func:`event_values` order."""
    return [*EVENT_INSERT_COLUMNS, *table.filters]


def event_values(table: EventTable, event: StoredEvent) -> list[Any]:
    """One insert row of ``table`` (a delete marker stores '' or 0 in the filter columns)."""
    payload = event.payload
    extracted = [c.extract(payload) if payload is not None else _absent(c.name) for c in table.columns]
    envelope = [
        event.event_id, event.tenant_id, event.event_type, event.time_ms, event.source, event.key_id, event.subject,
        event.trace_id, event.record_key, event.deleted, event.payload_json(),
    ]  # fmt: skip
    return [*envelope, *extracted]


def _absent(column: str) -> Any:
    return 0 if FILTERS[column] == "UInt32" else ""


def event_page(query: Query, database: str, table: EventTable, q: EventQuery) -> EventPage:
    """A page of ``q``'s events from ``table``, newest first."""
    table.check_filters(q.filters)  # the HTTP layer refuses these first; this guards other callers
    where = ["tenant_id = {tenant_id:String}"]
    params: dict[str, Any] = {"tenant_id": q.tenant_id, "limit": q.limit + 1}
    window("time", q.start, q.end, where, params)
    for column, value in sorted(q.filters.items()):
        where.append(f"{column} = {{f_{column}:{FILTERS[column]}}}")
        params[f"f_{column}"] = value
    keyset("time", q.decoded_cursor(), where, params)
    sql = (
        f"SELECT {', '.join(_EVENT_SELECT)} FROM {database}.{table.name} WHERE {' AND '.join(where)}"  # noqa: S608 - allow-listed
        " ORDER BY time DESC, event_id DESC LIMIT 1 BY time, event_id LIMIT {limit:UInt32}"
    )
    rows = query(sql, params)
    items = [_event_row(row) for row in rows[: q.limit]]
    return EventPage(items=items, next_cursor=next_cursor(items, len(rows) > q.limit))


def _event_row(row: Sequence[Any]) -> EventRow:
    r = dict(zip(_EVENT_SELECT, row, strict=True))
    return EventRow.model_validate(
        {
            "event_id": str(r["event_id"]),
            "tenant_id": r["tenant_id"],
            "type": r["event_type"],
            "time": to_utc(r["time"]),
            "source": r["source"],
            "key_id": r["key_id"] or None,
            "subject": r["subject"] or None,
            "trace_id": r["trace_id"] or None,
            "record_key": r["record_key"] or None,
            "deleted": bool(r["deleted"]),
            "data": None if r["deleted"] else json.loads(r["payload"]),
            "ingested_at": to_utc(r["ingested_at"]),
        }
    )
