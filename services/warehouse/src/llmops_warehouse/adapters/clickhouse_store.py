"""The ClickHouse implementation of :class:`~llmops_warehouse.ports.EventStore` (chDB or a server).

Tables come from ``infra/clickhouse/migrations`` (see docs/adr/0004-clickhouse-storage.md and
docs/adr/0008-warehouse-event-tables.md); what goes where is :mod:`llmops_warehouse.tables`. All SQL is
parameterised with server-side ``{name:Type}`` bindings; the only text spliced into statements is the
database name (validated at construction), table names from the mapping and column names from allow-lists.

Reads never queue behind inserts: the writer client is the consumer's alone (under a lock), and each read
thread opens a client of its own (``reader``), whose queries carry ``read_settings`` (the server-side
``max_execution_time``). chDB runs queries of several clients of one engine concurrently, as a server does.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

from llmops_warehouse.adapters.clickhouse_rollup import restore_rollup
from llmops_warehouse.adapters.clickhouse_sql import (
    event_columns,
    event_page,
    event_values,
    keyset,
    stored_ids,
    stored_keys,
    window,
)
from llmops_warehouse.call_columns import CALL_INSERT_COLUMNS, CALL_SELECT_COLUMNS, call_row_fields, call_values
from llmops_warehouse.call_events import CallEvent, as_struct
from llmops_warehouse.events import EventPage, EventQuery, StoredEvent
from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    Cursor,
    InvalidEventError,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
    epoch_ms,
    event_id_int,
)
from llmops_warehouse.pass_columns import PASS_INSERT_COLUMNS, SCORES_TABLE, pass_values
from llmops_warehouse.retention.expiry import Retention
from llmops_warehouse.tables import TABLES, EventTable, table_named, tables_by_name

__all__ = ["ClickHouseEventStore"]

log = logging.getLogger(__name__)

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SELECT_LIST = ", ".join(CALL_SELECT_COLUMNS)

# The call-query filters that are plain equality on a column of the same name (allow-list), with their type.
_EQUALITY_COLUMNS = {
    **dict.fromkeys(("app", "environment", "model", "status", "user_id", "session_id", "trace_id"), "String"),
    **dict.fromkeys(("call_id", "prompt_name", "experiment_id", "origin"), "String"),
    "prompt_version": "UInt32",
}
# ClickHouse pauses a query of a lower priority (a higher number) while one of a higher priority runs: the
# consumer's dedup checks and inserts go first, queries yield to them (0 would take no part in priorities).
_WRITE_SETTINGS = {"priority": 1, "max_partitions_per_insert_block": 0}
"""Inserts go before reads; and a batch may span any number of days (tables are partitioned by day, and a
warehouse reading a compacted topic from its start sees months in one batch; ClickHouse's default refuses an
insert touching over 100 partitions with TOO_MANY_PARTS, which would be retried forever)."""
_CALL_INSERT_SETTINGS = {**_WRITE_SETTINGS, "optimize_on_insert": 0}
"""The calls insert skips ClickHouse's merge of each inserted block (``optimize_on_insert``: ``calls``'
ReplacingMergeTree collapsing rows of one sorting key, the rollup's AggregatingMergeTree folding rows of one key):
the store keeps one row per (tenant, event id) before it inserts, the sorting key holds the event id and the
view's GROUP BY leaves one row per rollup key, so that merge finds nothing to do, at about 8 µs per call
(docs/adr/0060). Reads deduplicate as before (``LIMIT 1 BY``), and background merges collapse as before."""
_EVENT_INSERT_SETTINGS = {**_WRITE_SETTINGS, "optimize_on_insert": 0}
"""The event tables' inserts skip that merge too, for the same reason (docs/adr/0059): every one is a
ReplacingMergeTree sorted by ``(tenant_id, time, event_id)`` with no view on it, and ``insert_events`` keeps one row
per (tenant, event id) of a batch and drops those already stored before it inserts."""
READ_PRIORITY = 2
ROLLUP_READ_PRIORITY = _WRITE_SETTINGS["priority"]
"""Reads of the per-minute rollup (summary, time series) are a few small granules: at the inserts' priority they
are not paused for the whole of an insert (up to ``WAREHOUSE_BATCH_SIZE`` events while the consumer lags,
docs/adr/0022) and cost the inserts next to nothing."""
_METRIC_FILTER_COLUMNS = frozenset({"app", "environment", "model"})
_GROUP_EXPRESSIONS = {"none": "''", "app": "app", "model": "model"}

# Must stay the expression of the optional idx_text skip index (infra/clickhouse/optional/text_search_index.sql)
# so that index, where applied, can serve the search.
_SEARCH_EXPRESSION = (
    "lowerUTF8(concat(arrayStringConcat(message_contents, '\\n'), '\\n', ifNull(output, ''), '\\n', "
    "arrayStringConcat(arrayMap(o -> ifNull(o, ''), choice_outputs), '\\n'), '\\n', "
    "arrayStringConcat(tool_arguments, '\\n')))"
)

_METRICS_SELECT = (
    "countMerge(calls) AS n_calls, sumMerge(errors) AS n_errors, sumMerge(prompt_tokens) AS n_prompt, "
    "sumMerge(completion_tokens) AS n_completion, sumMerge(total_tokens) AS n_total, "
    "quantilesMerge(0.5, 0.95, 0.99)(latency_ms) AS latency"
)


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` (lower-cased) anywhere, with LIKE's metacharacters escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ClickHouseEventStore:
    """:class:`~llmops_warehouse.ports.EventStore` over clickhouse-connect clients.

    ``client`` writes (and answers reads too when no ``reader`` is given), one operation at a time under a
    lock: clickhouse-connect clients are not meant for concurrent use. ``reader`` opens a client for each
    thread that reads, so reads run beside the inserts instead of behind them. The schema must exist
    (:func:`llmops_warehouse.migrations.apply_migrations`).
    """

    def __init__(
        self,
        client: Any,
        database: str = "llmops",
        *,
        reader: Callable[[], Any] | None = None,
        read_settings: Mapping[str, Any] | None = None,
        tables: Sequence[EventTable] = TABLES,
        retention: Retention | None = None,
    ) -> None:
        if not _IDENTIFIER_RE.match(database):
            raise ValueError(f"invalid database name {database!r}")
        self._client = client
        self._db = database
        self._lock = threading.Lock()
        self._reader = reader
        self._readers = threading.local()
        self._read_settings = {"priority": READ_PRIORITY, **(read_settings or {})}
        self._rollup_settings = {**self._read_settings, "priority": ROLLUP_READ_PRIORITY}
        self._tables = tables_by_name(tables)
        self._insert_contexts: dict[str, Any] = {}
        self._retention = retention

    @property
    def client(self) -> Any:
        """The writer clickhouse-connect client (use under the store's lock only)."""
        return self._client

    @property
    def database(self) -> str:
        """The database the store's tables are in."""
        return self._db

    def writing(self) -> AbstractContextManager[Any]:
        """The writer client under the store's lock (the erasure writes beside the inserts, in turn with them)."""
        return self._writer()

    def read(self, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """Run a read on this thread's reader client (the erasure's ledger and its page of call ids)."""
        return self._query(sql, params)

    @contextmanager
    def _writer(self) -> Iterator[Any]:
        with self._lock:
            yield self._client

    def _query(self, sql: str, params: dict[str, Any], *, rollup: bool = False) -> Sequence[Sequence[Any]]:
        """Run a read: on this thread's reader client when there is one, else on the writer's; ``rollup`` reads
        (of the per-minute rollup only) run at :data:`ROLLUP_READ_PRIORITY`."""
        settings = self._rollup_settings if rollup else self._read_settings
        if self._reader is None:
            with self._writer() as client:
                return client.query(sql, parameters=params, settings=settings).result_rows  # type: ignore[no-any-return]
        client = getattr(self._readers, "client", None)
        if client is None:
            client = self._readers.client = self._reader()
        return client.query(sql, parameters=params, settings=settings).result_rows  # type: ignore[no-any-return]

    def _insert(
        self,
        client: Any,
        table: str,
        columns: Sequence[str],
        data: list[Any],
        column_oriented: bool,
        settings: Mapping[str, Any] = _WRITE_SETTINGS,
    ) -> None:
        """Insert through a cached insert context (it caches the table's column types and ``settings``), each row
        stamped with its expiry when the store has a :class:`Retention` (docs/adr/0049)."""
        if self._retention is not None:
            columns, data = self._retention.stamp(table, columns, data, column_oriented)
        context = self._insert_contexts.get(table)
        if context is None:
            context = client.create_insert_context(
                table=table,
                database=self._db,
                column_names=list(columns),
                column_oriented=column_oriented,
                settings=dict(settings),
            )
            self._insert_contexts[table] = context
        context.data = data
        try:
            client.insert(context=context)
        finally:
            context.data = None

    # ----------------------------------------------------------------------------------------- writes

    def insert_calls(self, events: Sequence[CallEvent]) -> int:
        if not events:
            return 0
        batch, bad = _dedupe_batch([as_struct(event) for event in events])
        if bad:
            raise InvalidEventError(f"event ids must be UUIDs; not storable: {', '.join(bad[:10])}", bad)
        # The check needs the batch's time range only: the extremes of the start times, in milliseconds (the
        # floor is monotonic), instead of every start time converted.
        starts = [event.data.started_at for event in batch.values()]
        with self._writer() as client:
            stored = stored_ids(
                _on(client), f"{self._db}.calls", "started_at", list(batch),
                [epoch_ms(min(starts)), epoch_ms(max(starts))],
            )  # fmt: skip
            if stored:  # a redelivery, or the replay of an insert cut short (docs/adr/0064)
                replayed = [(tenant, epoch_ms(batch[tenant, uid].data.started_at) // 1000) for tenant, uid in stored]
                restore_rollup(client, self._db, replayed, _WRITE_SETTINGS)
            fresh = [(key, event) for key, event in batch.items() if key not in stored]
            if not fresh:
                return 0
            columns = [[uid for (_, uid), _ in fresh], *call_values([event for _, event in fresh])]
            self._insert(
                client, "calls", CALL_INSERT_COLUMNS, columns, column_oriented=True, settings=_CALL_INSERT_SETTINGS
            )
            return len(fresh)

    def insert_events(self, events: Sequence[StoredEvent]) -> int:
        by_table: dict[str, dict[tuple[str, uuid.UUID], StoredEvent]] = {}
        for event in events:
            by_table.setdefault(event.table, {}).setdefault((event.tenant_id, event.event_id), event)
        tables = {name: self._table(name) for name in by_table}  # an unmapped table fails before any write
        written, settings = 0, _EVENT_INSERT_SETTINGS
        with self._writer() as client:
            for name, batch in by_table.items():
                table = tables[name]
                stored = stored_keys(
                    _on(client), f"{self._db}.{name}", "time", list(batch), [e.time_ms for e in batch.values()]
                )
                fresh = [e for key, e in batch.items() if key not in stored]
                if fresh and name == SCORES_TABLE:  # passes have columns of their own (docs/adr/0032)
                    values = pass_values(fresh)
                    self._insert(client, name, PASS_INSERT_COLUMNS, values, column_oriented=True, settings=settings)
                elif fresh:
                    rows = [event_values(table, e) for e in fresh]
                    self._insert(client, name, event_columns(table), rows, column_oriented=False, settings=settings)
                written += len(fresh)
        return written

    def _table(self, name: str) -> EventTable:
        return table_named(self._tables, name)

    # ----------------------------------------------------------------------------------------- reads

    def read_events(self, q: EventQuery) -> EventPage:
        return event_page(self._query, self._db, self._table(q.table), q)

    def list_calls(self, q: CallQuery) -> CallPage:
        where = ["tenant_id = {tenant_id:String}"]
        params: dict[str, Any] = {"tenant_id": q.tenant_id, "limit": q.limit + 1}
        window("started_at", q.start, q.end, where, params)
        for column, value in q.equality_filters().items():
            where.append(f"{column} = {{f_{column}:{_EQUALITY_COLUMNS[column]}}}")
            params[f"f_{column}"] = value
        if q.text is not None:
            where.append(f"{_SEARCH_EXPRESSION} LIKE {{text:String}}")
            params["text"] = _like_pattern(q.text)
        keyset("started_at", q.decoded_cursor(), where, params)
        sql = (
            f"SELECT {_SELECT_LIST} FROM {self._db}.calls WHERE {' AND '.join(where)}"  # noqa: S608 - validated database name and allow-listed SQL only
            " ORDER BY started_at DESC, event_id DESC LIMIT 1 BY started_at, event_id LIMIT {limit:UInt32}"
        )
        rows = self._query(sql, params)
        items = [CallRow(**call_row_fields(row)) for row in rows[: q.limit]]
        next_cursor = Cursor.after(items[-1]).encode() if len(rows) > q.limit else None
        return CallPage(items=items, next_cursor=next_cursor)

    def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        sql = (
            f"SELECT {_SELECT_LIST} FROM {self._db}.calls"  # noqa: S608 - validated database name and allow-listed SQL only
            " WHERE tenant_id = {tenant_id:String} AND call_id = {call_id:String}"
            " ORDER BY started_at DESC, event_id DESC LIMIT 1"
        )
        rows = self._query(sql, {"tenant_id": tenant_id, "call_id": call_id})
        return CallRow(**call_row_fields(rows[0])) if rows else None

    # ----------------------------------------------------------------------------------------- metrics

    def _metrics_where(self, q: MetricsQuery, params: dict[str, Any]) -> str:
        where = [
            "tenant_id = {tenant_id:String}",
            "minute >= toDateTime({start:Int64}, 'UTC')",
            "minute < toDateTime({end:Int64}, 'UTC')",
        ]
        params.update(tenant_id=q.tenant_id, start=int(q.start.timestamp()), end=int(q.end.timestamp()))
        filters = q.equality_filters()
        origin = filters.pop("origin", None)
        for column, value in filters.items():
            if column not in _METRIC_FILTER_COLUMNS:  # pragma: no cover - the query model only yields these
                raise ValueError(f"unsupported filter {column!r}")
            where.append(f"{column} = {{f_{column}:String}}")
            params[f"f_{column}"] = value
        if origin is not None:
            # '' is a minute rolled up before origin existed (0003): the applications' traffic.
            where.append("if(origin = '', 'application', origin) = {origin:String}")
            params["origin"] = origin
        return " AND ".join(where)

    def summary(self, q: MetricsQuery) -> list[SummaryRow]:
        params: dict[str, Any] = {}
        where = self._metrics_where(q, params)
        sql = (
            f"SELECT {_GROUP_EXPRESSIONS[q.group_by]} AS grp, {_METRICS_SELECT}"  # noqa: S608 - validated database name and allow-listed SQL only
            f" FROM {self._db}.calls_per_minute WHERE {where}"
            " GROUP BY grp HAVING n_calls > 0 ORDER BY n_calls DESC, grp ASC"
        )
        grouped = q.group_by != "none"
        return [
            SummaryRow.compute(calls, errors, prompt, completion, total, latency, group=grp if grouped else None)
            for grp, calls, errors, prompt, completion, total, latency in self._query(sql, params, rollup=True)
        ]

    def timeseries(self, q: TimeseriesQuery) -> list[TimeseriesPoint]:
        params: dict[str, Any] = {"step": q.step_seconds}
        where = self._metrics_where(q, params)
        sql = (
            "SELECT intDiv(toInt64(toUInt32(minute)) - {start:Int64}, {step:Int64}) AS bucket,"  # noqa: S608 - validated database name and allow-listed SQL only
            f" {_GROUP_EXPRESSIONS[q.group_by]} AS grp, {_METRICS_SELECT}"
            f" FROM {self._db}.calls_per_minute WHERE {where}"
            " GROUP BY bucket, grp HAVING n_calls > 0 ORDER BY bucket ASC, grp ASC"
        )
        grouped = q.group_by != "none"
        step = timedelta(seconds=q.step_seconds)
        return [
            TimeseriesPoint.compute(
                calls,
                errors,
                prompt,
                completion,
                total,
                latency,
                bucket_start=q.start + bucket * step,
                group=grp if grouped else None,
            )
            for bucket, grp, calls, errors, prompt, completion, total, latency in self._query(sql, params, rollup=True)
        ]

    # ----------------------------------------------------------------------------------------- health

    def ping(self) -> bool:
        try:
            return bool(self._query("SELECT 1", {}) == [(1,)])
        except Exception:
            log.warning("ClickHouse ping failed", exc_info=True)
            return False


def _on(client: Any) -> Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]:
    """A query function on ``client`` (the writer's, for the dedup check under its lock)."""
    return lambda sql, params: client.query(sql, parameters=params, settings=_WRITE_SETTINGS).result_rows


def _dedupe_batch(events: Sequence[CallEvent]) -> tuple[dict[tuple[str, int], CallEvent], list[str]]:
    """The batch keyed by (tenant, event id as its 128-bit integer, which the insert writes), first occurrence
    kept; plus the ids that are no UUIDs."""
    batch: dict[tuple[str, int], CallEvent] = {}
    bad: list[str] = []
    for event in events:
        try:
            key = (event.tenant_id, event_id_int(event.id))
        except ValueError:
            bad.append(event.id)
            continue
        batch.setdefault(key, event)
    return batch, bad
