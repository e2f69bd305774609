"""The declarative mapping of event types to ClickHouse tables: the one place that says what is stored where.

Adding an event type to the warehouse is one migration (``infra/clickhouse/migrations/NNNN_*.sql``, the
table) plus one :class:`EventTable` entry in :data:`TABLES`; the consumer, the dedup, the tombstones and
the generic read endpoint (``GET /v1/events/{table}``) all follow from the entry, with no new code path.

Every event table has the same envelope columns (see ``0004_event_tables.sql``): ``event_id``,
``tenant_id``, ``event_type``, ``source``, ``key_id``, ``subject``, ``trace_id``, ``time`` (the envelope's),
``record_key``, ``deleted`` (a tombstone of a compacted topic), ``payload`` (the payload as JSON) and
``ingested_at``. An entry adds the columns its type can be filtered on, each extracted from the payload.

Calls are the hot path and have a table of their own (``0001_calls.sql``): :data:`CALL_COLUMNS` maps each
column to how it is extracted from an event and restored into a :class:`~llmops_warehouse.models.CallRow`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter, itemgetter
from typing import Any

from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v1 import (
    AlertStateChanged,
    AuditRecorded,
    BudgetConfigured,
    BudgetStateChanged,
    CostRecorded,
    DriftReported,
    ErasureProcessed,
    ErasureRequested,
    EvaluationScored,
    ExperimentConfigured,
    FeedbackReceived,
    PolicyPublished,
    PricePublished,
    PromptLabelMoved,
    PromptVersionPublished,
)
from llmops_schemas.v1.calls import CallError, CallParameters, CallRecorded, ChatMessage, ExperimentRef, TokenUsage
from llmops_schemas.v1.common import PromptRef

from llmops_warehouse.models import epoch_ms, to_utc

__all__ = [
    "CALL_COLUMNS",
    "CALL_INSERT_COLUMNS",
    "CALL_SELECT_COLUMNS",
    "FILTERS",
    "TABLES",
    "CallColumn",
    "Column",
    "EventTable",
    "call_row_fields",
    "call_values",
    "table_for_type",
    "tables_by_name",
]

Row = Mapping[str, Any]
"""A selected row by column name."""
Restore = Callable[[Row], Any]

FILTERS: Mapping[str, str] = {
    "app": "String",
    "model": "String",
    "prompt_name": "String",
    "prompt_version": "UInt32",
    "experiment_id": "String",
    "call_id": "String",
}
"""The filters the generic read offers, with the ClickHouse type of their column. A table declares the ones
its type has (:attr:`EventTable.columns`); asking another table for them is a 422."""


@dataclass(frozen=True, slots=True)
class Column:
    """A filter column of an event table: ``extract`` reads its value from the payload (absent: '' or 0)."""

    name: str
    extract: Callable[[Any], Any]


def _text(name: str, path: str | None = None) -> Column:
    """A String column from the payload attribute ``path`` (default ``name``); None is stored as ''."""
    getter = attrgetter(path or name)
    return Column(name, lambda payload: getter(payload) or "")


def _number(name: str, path: str) -> Column:
    """A number column from the payload attribute ``path``; None is stored as 0."""
    getter = attrgetter(path)
    return Column(name, lambda payload: getter(payload) or 0)


@dataclass(frozen=True)
class EventTable:
    """One event type stored in one table.

    ``key_pattern`` matters on a compacted topic that carries several types: a tombstone (a record with a
    null value) under a key matching it becomes a delete marker in this table.
    """

    name: str
    payload: type[EventPayload]
    columns: tuple[Column, ...] = ()
    key_pattern: str | None = None

    def __post_init__(self) -> None:
        unknown = {c.name for c in self.columns} - FILTERS.keys()
        if unknown:
            raise ValueError(f"{self.name}: {sorted(unknown)} are not filters of the generic read ({sorted(FILTERS)})")

    @property
    def event_type(self) -> str:
        """The CloudEvents type stored here (the newest version: older ones are upcast first)."""
        return self.payload.event_type

    @property
    def topic(self) -> str:
        """The topic the type is published on."""
        return self.payload.topic

    @property
    def filters(self) -> tuple[str, ...]:
        """The names of the filter columns (each also a query parameter of the generic read)."""
        return tuple(c.name for c in self.columns)

    @cached_property
    def _key_re(self) -> re.Pattern[str] | None:
        return re.compile(self.key_pattern) if self.key_pattern else None

    def owns_key(self, key: str) -> bool:
        """Whether a tombstone under ``key`` deletes an entity of this table."""
        return self._key_re is None or self._key_re.fullmatch(key) is not None


_APP = _text("app")
_MODEL = _text("model")
_CALL_ID = _text("call_id")

TABLES: tuple[EventTable, ...] = (
    EventTable("evaluation_scores", EvaluationScored, (_APP, _CALL_ID)),
    EventTable("feedback", FeedbackReceived, (_CALL_ID,)),
    EventTable("drift_reports", DriftReported, (_APP, _MODEL)),
    EventTable("cost_records", CostRecorded, (_APP, _MODEL, _CALL_ID)),
    EventTable("budget_events", BudgetStateChanged),
    EventTable("budget_configs", BudgetConfigured),
    EventTable("prices", PricePublished, (_MODEL,)),
    EventTable("audit_records", AuditRecorded),
    EventTable("alerts", AlertStateChanged),
    EventTable("erasure_requests", ErasureRequested),
    EventTable("erasure_receipts", ErasureProcessed),
    EventTable(
        "prompt_versions",
        PromptVersionPublished,
        (_text("prompt_name", "name"), _number("prompt_version", "version"), _MODEL),
        key_pattern=r"[^:]+:[^:]+:[0-9]+",
    ),
    EventTable(
        "prompt_label_moves",
        PromptLabelMoved,
        (_text("prompt_name", "name"), _number("prompt_version", "version")),
        key_pattern=r"[^:]+:[^:]+:label:[^:]+",
    ),
    EventTable("experiments", ExperimentConfigured, (_APP, _text("experiment_id"))),
    EventTable("policies", PolicyPublished),
)
"""Every stored event type but calls. Names are table names and the ``{table}`` of ``GET /v1/events/{table}``."""


def tables_by_name(tables: Sequence[EventTable] = TABLES) -> dict[str, EventTable]:
    """``tables`` by name; raises when two share a name or a type."""
    by_name: dict[str, EventTable] = {}
    types: set[str] = set()
    for table in tables:
        if table.name in by_name or table.event_type in types:
            raise ValueError(f"{table.name} ({table.event_type}) is mapped twice")
        by_name[table.name] = table
        types.add(table.event_type)
    return by_name


def table_for_type(tables: Sequence[EventTable], event_type: str) -> EventTable | None:
    """The table of ``event_type``, or None when the warehouse does not store it."""
    return next((t for t in tables if t.event_type == event_type), None)


# --------------------------------------------------------------------------------------------- calls

Event = CloudEvent[CallRecorded]


@dataclass(frozen=True, slots=True)
class CallColumn:
    """A column of ``calls``: ``extract`` reads it from an event (None: the server fills it in).

    ``restore`` builds the :class:`CallRow` field ``field`` from the selected row; None where another
    column's ``restore`` reads this one too (the four message arrays make ``messages``).
    """

    name: str
    extract: Callable[[Event], Any] | None
    field: str | None = None
    restore: Callable[[Row], Any] | None = None


def _plain(name: str) -> CallColumn:
    return CallColumn(name, attrgetter(f"data.{name}"), name, itemgetter(name))


def _blank(name: str) -> CallColumn:
    """An optional identifier: '' means absent (no Nullable overhead)."""
    return CallColumn(name, lambda e: getattr(e.data, name) or "", name, lambda r: r[name] or None)


def _part(
    name: str,
    parent: str,
    attr: str,
    absent: Any,
    field: str | None = None,
    restore: Callable[[Row], Any] | None = None,
) -> CallColumn:
    """A column holding ``attr`` of the optional payload part ``parent``: ``absent`` when either is None."""

    def extract(e: Event) -> Any:
        part = getattr(e.data, parent)
        value = None if part is None else getattr(part, attr)
        return absent if value is None else value

    return CallColumn(name, extract, field, restore)


def _messages(r: Row) -> list[ChatMessage]:
    arrays = (r["message_roles"], r["message_contents"], r["message_names"], r["message_tool_call_ids"])
    return [
        ChatMessage(role=role, content=content, name=name or None, tool_call_id=tool_call_id or None)
        for role, content, name, tool_call_id in zip(*arrays, strict=True)
    ]


def _parameters(e: Event) -> str:
    p = e.data.parameters
    return p.model_dump_json(exclude_defaults=True) if p.model_fields_set else "{}"


def _usage(r: Row) -> TokenUsage | None:
    if r["total_tokens"] is None:
        return None
    return TokenUsage(
        prompt_tokens=r["prompt_tokens"], completion_tokens=r["completion_tokens"], total_tokens=r["total_tokens"]
    )


def _error(r: Row) -> CallError | None:
    if not r["error_type"]:
        return None
    return CallError(type=r["error_type"], message=r["error_message"], code=r["error_code"] or None)


def _prompt(r: Row) -> PromptRef | None:
    if not r["prompt_name"]:
        return None
    return PromptRef(name=r["prompt_name"], version=r["prompt_version"], label=r["prompt_label"] or None)


def _experiment(r: Row) -> ExperimentRef | None:
    if not r["experiment_id"]:
        return None
    return ExperimentRef(experiment_id=r["experiment_id"], variant=r["experiment_variant"], shadow=r["is_shadow"])


def _at(name: str) -> Callable[[Row], Any]:
    return lambda r: to_utc(r[name])


CALL_COLUMNS: tuple[CallColumn, ...] = (
    CallColumn("tenant_id", attrgetter("tenant_id"), "tenant_id", itemgetter("tenant_id")),
    _plain("call_id"),
    _blank("trace_id"),
    _plain("app"),
    _plain("environment"),
    _blank("user_id"),
    _blank("session_id"),
    _plain("model"),
    _plain("provider"),
    CallColumn("message_roles", lambda e: [m.role for m in e.data.messages], "messages", _messages),
    CallColumn("message_contents", lambda e: [m.content for m in e.data.messages]),
    CallColumn("message_names", lambda e: [m.name or "" for m in e.data.messages]),
    CallColumn("message_tool_call_ids", lambda e: [m.tool_call_id or "" for m in e.data.messages]),
    _plain("output"),
    _blank("finish_reason"),
    CallColumn(
        "parameters",
        _parameters,
        "parameters",
        lambda r: CallParameters.model_validate_json(r["parameters"]) if r["parameters"] != "{}" else CallParameters(),
    ),
    _part("prompt_tokens", "usage", "prompt_tokens", None),
    _part("completion_tokens", "usage", "completion_tokens", None),
    _part("total_tokens", "usage", "total_tokens", None, "usage", _usage),
    CallColumn("latency_ms", attrgetter("data.latency_ms"), "latency_ms", itemgetter("latency_ms")),
    CallColumn("ttft_ms", attrgetter("data.time_to_first_token_ms"), "time_to_first_token_ms", itemgetter("ttft_ms")),
    _plain("status"),
    _part("error_type", "error", "type", "", "error", _error),
    _part("error_message", "error", "message", ""),
    _part("error_code", "error", "code", ""),
    _part("prompt_name", "prompt", "name", "", "prompt", _prompt),
    _part("prompt_version", "prompt", "version", 0),
    _part("prompt_label", "prompt", "label", ""),
    _part("experiment_id", "experiment", "experiment_id", "", "experiment", _experiment),
    _part("experiment_variant", "experiment", "variant", ""),
    _part("is_shadow", "experiment", "shadow", False),
    CallColumn("tags", attrgetter("data.tags"), "tags", lambda r: list(r["tags"])),
    CallColumn("metadata", attrgetter("data.metadata"), "metadata", lambda r: dict(r["metadata"])),
    _plain("origin"),
    CallColumn("source", attrgetter("source"), "source", itemgetter("source")),
    CallColumn("key_id", lambda e: e.key_id or "", "key_id", lambda r: r["key_id"] or None),
    CallColumn("started_at", lambda e: epoch_ms(e.data.started_at), "started_at", _at("started_at")),
    CallColumn("received_at", lambda e: epoch_ms(e.time), "received_at", _at("received_at")),
    CallColumn("ingested_at", None, "ingested_at", _at("ingested_at")),
)
"""Every column of ``calls`` but ``event_id`` (the store writes the id it deduplicated on)."""

CALL_INSERT_COLUMNS: tuple[str, ...] = ("event_id", *(c.name for c in CALL_COLUMNS if c.extract is not None))
CALL_SELECT_COLUMNS: tuple[str, ...] = ("event_id", *(c.name for c in CALL_COLUMNS))
_EXTRACTS = tuple(c.extract for c in CALL_COLUMNS if c.extract is not None)
_RESTORES = tuple((c.field, c.restore) for c in CALL_COLUMNS if c.field is not None and c.restore is not None)


def call_values(events: Sequence[Event]) -> list[list[Any]]:
    """The insert columns but ``event_id`` for ``events``, column by column (a column-oriented insert)."""
    return [list(map(extract, events)) for extract in _EXTRACTS]


def call_row_fields(row: Sequence[Any]) -> dict[str, Any]:
    """The :class:`CallRow` fields of a row selected as :data:`CALL_SELECT_COLUMNS`."""
    named = dict(zip(CALL_SELECT_COLUMNS, row, strict=True))
    fields = {name: restore(named) for name, restore in _RESTORES}
    fields["event_id"] = str(named["event_id"])
    return fields
