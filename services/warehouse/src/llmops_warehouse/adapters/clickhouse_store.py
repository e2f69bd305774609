"""The ClickHouse implementation of :class:`~llmops_warehouse.ports.CallStore` (chDB or a server).

Tables come from ``infra/clickhouse/migrations`` (see docs/adr/0004-clickhouse-storage.md). All SQL is
parameterised with server-side ``{name:Type}`` bindings; the only text spliced into statements is the
database name (validated at construction) and column names from fixed allow-lists.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.calls import CallError, CallParameters, CallRecorded, ChatMessage, ExperimentRef, TokenUsage
from llmops_schemas.v1.common import PromptRef

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
    to_utc,
)

__all__ = ["ClickHouseCallStore"]

log = logging.getLogger(__name__)

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

INSERT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "tenant_id",
    "call_id",
    "trace_id",
    "app",
    "environment",
    "user_id",
    "session_id",
    "model",
    "provider",
    "message_roles",
    "message_contents",
    "message_names",
    "message_tool_call_ids",
    "output",
    "finish_reason",
    "parameters",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_ms",
    "ttft_ms",
    "status",
    "error_type",
    "error_message",
    "error_code",
    "prompt_name",
    "prompt_version",
    "prompt_label",
    "experiment_id",
    "experiment_variant",
    "is_shadow",
    "tags",
    "metadata",
    "started_at",
    "received_at",
)
"""Columns the warehouse writes (``ingested_at`` is the server's ``now64(3)`` default)."""

_SELECT_COLUMNS = (*INSERT_COLUMNS, "ingested_at")
_SELECT_LIST = ", ".join(_SELECT_COLUMNS)

# The call-query filters that are plain equality on a column of the same name (allow-list).
_EQUALITY_COLUMNS = frozenset({"app", "environment", "model", "status", "user_id", "session_id", "trace_id"})
_METRIC_FILTER_COLUMNS = frozenset({"app", "environment", "model"})
_GROUP_EXPRESSIONS = {"none": "''", "app": "app", "model": "model"}

# Must stay the expression of the idx_text skip index (0001_calls.sql) so the index can serve the search.
_SEARCH_EXPRESSION = "lowerUTF8(concat(arrayStringConcat(message_contents, '\\n'), '\\n', ifNull(output, '')))"

_METRICS_SELECT = (
    "countMerge(calls) AS n_calls, sumMerge(errors) AS n_errors, sumMerge(prompt_tokens) AS n_prompt, "
    "sumMerge(completion_tokens) AS n_completion, sumMerge(total_tokens) AS n_total, "
    "quantilesMerge(0.5, 0.95, 0.99)(latency_ms) AS latency"
)


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` (lower-cased) anywhere, with LIKE's metacharacters escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ClickHouseCallStore:
    """:class:`~llmops_warehouse.ports.CallStore` over a clickhouse-connect client.

    The client is synchronous and not meant for concurrent use, so every operation holds a lock: one
    store (and its client) can be shared by the consumer and the HTTP app, each calling it from a worker
    thread. The schema must exist (:func:`llmops_warehouse.migrations.apply_migrations`).
    """

    def __init__(self, client: Any, database: str = "llmops") -> None:
        if not _IDENTIFIER_RE.match(database):
            raise ValueError(f"invalid database name {database!r}")
        self._client = client
        self._db = database
        self._lock = threading.Lock()
        self._insert_context: Any = None

    @property
    def client(self) -> Any:
        """The underlying clickhouse-connect client (use under the store's lock only)."""
        return self._client

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        with self._lock:
            yield self._client

    # ----------------------------------------------------------------------------------------- writes

    def insert_calls(self, events: Sequence[CloudEvent[CallRecorded]]) -> int:
        if not events:
            return 0
        batch, bad = _dedupe_batch(events)
        if bad:
            raise InvalidEventError(f"event ids must be UUIDs; not storable: {', '.join(bad[:10])}", bad)
        with self._locked() as client:
            stored = self._stored_keys(client, batch)
            fresh = [(key, event) for key, event in batch.items() if key not in stored]
            if not fresh:
                return 0
            columns = _to_columns(fresh)
            if self._insert_context is None:
                self._insert_context = client.create_insert_context(
                    table="calls", database=self._db, column_names=list(INSERT_COLUMNS), column_oriented=True
                )
            context = self._insert_context
            context.data = columns
            try:
                client.insert(context=context)
            finally:
                context.data = None
            return len(fresh)

    def _stored_keys(self, client: Any, batch: dict[tuple[str, uuid.UUID], CloudEvent[CallRecorded]]) -> set[Any]:
        """Which of the batch's (tenant, event id) keys are stored already.

        Bounded by the batch's ``started_at`` range (same partition and primary-key range as the stored
        copy of a redelivered event), so it reads a few granules, not the tenant's whole history.
        """
        starts = [epoch_ms(event.data.started_at) for event in batch.values()]
        tenants = sorted({tenant for tenant, _ in batch})
        # Event ids travel as UInt128 integers: binding thousands of them as UUID strings costs more client-side
        # (escaping) than the query itself.
        result = client.query(
            f"SELECT tenant_id, toUInt128(event_id) FROM {self._db}.calls"  # noqa: S608 - validated database name and allow-listed SQL only
            " WHERE tenant_id IN {tenants:Array(String)}"
            " AND started_at >= fromUnixTimestamp64Milli({lo:Int64}, 'UTC')"
            " AND started_at <= fromUnixTimestamp64Milli({hi:Int64}, 'UTC')"
            " AND toUInt128(event_id) IN {ids:Array(UInt128)}",
            parameters={
                "tenants": tenants,
                "lo": min(starts),
                "hi": max(starts),
                "ids": sorted({event_id.int for _, event_id in batch}),
            },
        )
        return {(tenant, uuid.UUID(int=value)) for tenant, value in result.result_rows}

    # ----------------------------------------------------------------------------------------- call reads

    def list_calls(self, q: CallQuery) -> CallPage:
        cursor = q.decoded_cursor()
        where = ["tenant_id = {tenant_id:String}"]
        params: dict[str, Any] = {"tenant_id": q.tenant_id, "limit": q.limit + 1}
        if q.start is not None:
            where.append("started_at >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')")
            params["start"] = epoch_ms(q.start)
        if q.end is not None:
            where.append("started_at < fromUnixTimestamp64Milli({end:Int64}, 'UTC')")
            params["end"] = epoch_ms(q.end)
        for column, value in q.equality_filters().items():
            if column not in _EQUALITY_COLUMNS:  # pragma: no cover - the query model only yields these
                raise ValueError(f"unsupported filter {column!r}")
            where.append(f"{column} = {{f_{column}:String}}")
            params[f"f_{column}"] = value
        if q.text is not None:
            where.append(f"{_SEARCH_EXPRESSION} LIKE {{text:String}}")
            params["text"] = _like_pattern(q.text)
        if cursor is not None:
            # The first conjunct is implied by the second but lets the primary key prune.
            where.append(
                "started_at <= fromUnixTimestamp64Milli({cursor_ts:Int64}, 'UTC')"
                " AND (started_at, event_id) < (fromUnixTimestamp64Milli({cursor_ts:Int64}, 'UTC'), {cursor_id:UUID})"
            )
            params["cursor_ts"] = cursor.started_at_ms
            params["cursor_id"] = cursor.event_id
        sql = (
            f"SELECT {_SELECT_LIST} FROM {self._db}.calls WHERE {' AND '.join(where)}"  # noqa: S608 - validated database name and allow-listed SQL only
            " ORDER BY started_at DESC, event_id DESC LIMIT 1 BY started_at, event_id LIMIT {limit:UInt32}"
        )
        with self._locked() as client:
            rows = client.query(sql, parameters=params).result_rows
        items = [_row_to_call(row) for row in rows[: q.limit]]
        next_cursor = Cursor.after(items[-1]).encode() if len(rows) > q.limit else None
        return CallPage(items=items, next_cursor=next_cursor)

    def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        sql = (
            f"SELECT {_SELECT_LIST} FROM {self._db}.calls"  # noqa: S608 - validated database name and allow-listed SQL only
            " WHERE tenant_id = {tenant_id:String} AND call_id = {call_id:String}"
            " ORDER BY started_at DESC, event_id DESC LIMIT 1"
        )
        with self._locked() as client:
            rows = client.query(sql, parameters={"tenant_id": tenant_id, "call_id": call_id}).result_rows
        return _row_to_call(rows[0]) if rows else None

    # ----------------------------------------------------------------------------------------- metrics

    def _metrics_where(self, q: MetricsQuery, params: dict[str, Any]) -> str:
        where = [
            "tenant_id = {tenant_id:String}",
            "minute >= toDateTime({start:Int64}, 'UTC')",
            "minute < toDateTime({end:Int64}, 'UTC')",
        ]
        params.update(tenant_id=q.tenant_id, start=int(q.start.timestamp()), end=int(q.end.timestamp()))
        for column, value in q.equality_filters().items():
            if column not in _METRIC_FILTER_COLUMNS:  # pragma: no cover - the query model only yields these
                raise ValueError(f"unsupported filter {column!r}")
            where.append(f"{column} = {{f_{column}:String}}")
            params[f"f_{column}"] = value
        return " AND ".join(where)

    def summary(self, q: MetricsQuery) -> list[SummaryRow]:
        params: dict[str, Any] = {}
        where = self._metrics_where(q, params)
        sql = (
            f"SELECT {_GROUP_EXPRESSIONS[q.group_by]} AS grp, {_METRICS_SELECT}"  # noqa: S608 - validated database name and allow-listed SQL only
            f" FROM {self._db}.calls_per_minute WHERE {where}"
            " GROUP BY grp HAVING n_calls > 0 ORDER BY n_calls DESC, grp ASC"
        )
        with self._locked() as client:
            rows = client.query(sql, parameters=params).result_rows
        grouped = q.group_by != "none"
        return [
            SummaryRow.compute(calls, errors, prompt, completion, total, latency, group=grp if grouped else None)
            for grp, calls, errors, prompt, completion, total, latency in rows
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
        with self._locked() as client:
            rows = client.query(sql, parameters=params).result_rows
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
            for bucket, grp, calls, errors, prompt, completion, total, latency in rows
        ]

    # ----------------------------------------------------------------------------------------- health

    def ping(self) -> bool:
        try:
            with self._locked() as client:
                return bool(client.command("SELECT 1") == 1)
        except Exception:
            log.warning("ClickHouse ping failed", exc_info=True)
            return False


# --------------------------------------------------------------------------------------------- conversions


def _dedupe_batch(
    events: Sequence[CloudEvent[CallRecorded]],
) -> tuple[dict[tuple[str, uuid.UUID], CloudEvent[CallRecorded]], list[str]]:
    """The batch keyed by (tenant, event id), first occurrence kept; plus the ids that are no UUIDs."""
    batch: dict[tuple[str, uuid.UUID], CloudEvent[CallRecorded]] = {}
    bad: list[str] = []
    for event in events:
        try:
            key = (event.tenant_id, uuid.UUID(event.id))
        except ValueError:
            bad.append(event.id)
            continue
        batch.setdefault(key, event)
    return batch, bad


def _to_columns(items: list[tuple[tuple[str, uuid.UUID], CloudEvent[CallRecorded]]]) -> list[list[Any]]:
    """Pivot events into the column lists of :data:`INSERT_COLUMNS` (column-oriented insert)."""
    cols: list[list[Any]] = [[] for _ in INSERT_COLUMNS]
    (
        event_id,
        tenant_id,
        call_id,
        trace_id,
        app,
        environment,
        user_id,
        session_id,
        model,
        provider,
        roles,
        contents,
        names,
        tool_call_ids,
        output,
        finish_reason,
        parameters,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        latency_ms,
        ttft_ms,
        status,
        error_type,
        error_message,
        error_code,
        prompt_name,
        prompt_version,
        prompt_label,
        experiment_id,
        experiment_variant,
        is_shadow,
        tags,
        metadata,
        started_at,
        received_at,
    ) = cols
    for (tenant, uid), event in items:
        d = event.data
        event_id.append(uid)
        tenant_id.append(tenant)
        call_id.append(d.call_id)
        trace_id.append(d.trace_id or "")
        app.append(d.app)
        environment.append(d.environment)
        user_id.append(d.user_id or "")
        session_id.append(d.session_id or "")
        model.append(d.model)
        provider.append(d.provider)
        messages = d.messages
        roles.append([m.role for m in messages])
        contents.append([m.content for m in messages])
        names.append([m.name or "" for m in messages])
        tool_call_ids.append([m.tool_call_id or "" for m in messages])
        output.append(d.output)
        finish_reason.append(d.finish_reason or "")
        p = d.parameters
        parameters.append(p.model_dump_json(exclude_defaults=True) if p.model_fields_set else "{}")
        usage = d.usage
        if usage is None:
            prompt_tokens.append(None)
            completion_tokens.append(None)
            total_tokens.append(None)
        else:
            prompt_tokens.append(usage.prompt_tokens)
            completion_tokens.append(usage.completion_tokens)
            total_tokens.append(usage.total_tokens)
        latency_ms.append(d.latency_ms)
        ttft_ms.append(d.time_to_first_token_ms)
        status.append(d.status)
        err = d.error
        if err is None:
            error_type.append("")
            error_message.append("")
            error_code.append("")
        else:
            error_type.append(err.type)
            error_message.append(err.message)
            error_code.append(err.code or "")
        pr = d.prompt
        if pr is None:
            prompt_name.append("")
            prompt_version.append(0)
            prompt_label.append("")
        else:
            prompt_name.append(pr.name)
            prompt_version.append(pr.version)
            prompt_label.append(pr.label or "")
        ex = d.experiment
        if ex is None:
            experiment_id.append("")
            experiment_variant.append("")
            is_shadow.append(False)
        else:
            experiment_id.append(ex.experiment_id)
            experiment_variant.append(ex.variant)
            is_shadow.append(ex.shadow)
        tags.append(d.tags)
        metadata.append(d.metadata)
        started_at.append(epoch_ms(d.started_at))
        received_at.append(epoch_ms(event.time))
    return cols


def _row_to_call(row: Sequence[Any]) -> CallRow:
    """A selected row (columns in ``_SELECT_COLUMNS`` order) as a :class:`CallRow`."""
    (
        event_id,
        tenant_id,
        call_id,
        trace_id,
        app,
        environment,
        user_id,
        session_id,
        model,
        provider,
        roles,
        contents,
        names,
        tool_call_ids,
        output,
        finish_reason,
        parameters,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        latency_ms,
        ttft_ms,
        status,
        error_type,
        error_message,
        error_code,
        prompt_name,
        prompt_version,
        prompt_label,
        experiment_id,
        experiment_variant,
        is_shadow,
        tags,
        metadata,
        started_at,
        received_at,
        ingested_at,
    ) = row
    return CallRow(
        event_id=str(event_id),
        tenant_id=tenant_id,
        call_id=call_id,
        trace_id=trace_id or None,
        app=app,
        environment=environment,
        user_id=user_id or None,
        session_id=session_id or None,
        model=model,
        provider=provider,
        messages=[
            ChatMessage(role=role, content=content, name=name or None, tool_call_id=tool_call_id or None)
            for role, content, name, tool_call_id in zip(roles, contents, names, tool_call_ids, strict=True)
        ],
        output=output,
        finish_reason=finish_reason or None,
        parameters=CallParameters.model_validate_json(parameters) if parameters != "{}" else CallParameters(),
        usage=None
        if total_tokens is None
        else TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=total_tokens),
        started_at=to_utc(started_at),
        latency_ms=latency_ms,
        time_to_first_token_ms=ttft_ms,
        status=status,
        error=CallError(type=error_type, message=error_message, code=error_code or None) if error_type else None,
        prompt=PromptRef(name=prompt_name, version=prompt_version, label=prompt_label or None) if prompt_name else None,
        experiment=ExperimentRef(experiment_id=experiment_id, variant=experiment_variant, shadow=is_shadow)
        if experiment_id
        else None,
        tags=list(tags),
        metadata=dict(metadata),
        received_at=to_utc(received_at),
        ingested_at=to_utc(ingested_at),
    )
