"""The declarative mapping of event types to ClickHouse tables: the one place that says what is stored where.

Adding an event type to the warehouse is one migration (``infra/clickhouse/migrations/NNNN_*.sql``, the
table) plus one :class:`EventTable` entry in :data:`TABLES`; the consumer, the dedup, the tombstones and
the generic read endpoint (``GET /v1/events/{table}``) all follow from the entry, with no new code path.

Every event table has the same envelope columns (see ``0004_event_tables.sql``): ``event_id``,
``tenant_id``, ``event_type``, ``source``, ``key_id``, ``subject``, ``trace_id``, ``time`` (the envelope's),
``record_key``, ``deleted`` (a tombstone of a compacted topic), ``payload`` (the payload as JSON) and
``ingested_at``. An entry adds the columns its type can be filtered on, each extracted from the payload.

Calls are the hot path and have a table of their own (``0001_calls.sql``), mapped column by column in
:mod:`llmops_warehouse.call_columns`. Evaluation passes keep this mapping, their envelope and the generic read,
and add the items of each pass as array columns (:mod:`llmops_warehouse.pass_columns`, docs/adr/0032).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import (
    ApiKeyStateChanged,
    AuditChained,
    AuditDigest,
    BudgetConfigured,
    BudgetStateChanged,
    EvaluatorConfigured,
    ExperimentConfigured,
    PricePublished,
    PromptLabelMoved,
    PromptVersionPublished,
    ReviewItemUpdated,
    ReviewQueueConfigured,
    VerdictPolicySet,
)
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated, RunUpdated
from llmops_schemas.v2 import (
    AlertStateChanged,
    AuditRecorded,
    CostRecorded,
    DriftReported,
    ErasureProcessed,
    ErasureRequested,
    EvaluationScored,
    FeedbackReceived,
    PolicyPublished,
)

__all__ = ["FILTERS", "TABLES", "Column", "EventTable", "table_for_type", "table_named", "tables_by_name"]


FILTERS: Mapping[str, str] = {
    "app": "String",
    "model": "String",
    "prompt_name": "String",
    "prompt_version": "UInt32",
    "experiment_id": "String",
    "call_id": "String",
    "run_id": "String",
    "replay_id": "String",
    "request_id": "String",
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

    def check_filters(self, names: Iterable[str]) -> None:
        """Raise ``ValueError`` for a filter the table does not have."""
        unknown = set(names) - set(self.filters)
        if unknown:
            raise ValueError(f"{self.name} cannot be filtered on {sorted(unknown)}")

    def owns_key(self, key: str) -> bool:
        """Whether a tombstone under ``key`` deletes an entity of this table."""
        return self._key_re is None or self._key_re.fullmatch(key) is not None


_APP = _text("app")
_MODEL = _text("model")
_CALL_ID = _text("call_id")
_RUN_ID = _text("run_id")

TABLES: tuple[EventTable, ...] = (
    EventTable("evaluation_scores", EvaluationScored, (_APP, _CALL_ID, _RUN_ID, _text("replay_id"))),
    EventTable("evaluator_configs", EvaluatorConfigured, (_APP,)),
    EventTable("feedback", FeedbackReceived, (_CALL_ID,)),
    EventTable(
        "drift_reports",
        DriftReported,
        (_APP, _MODEL, _text("prompt_name"), _number("prompt_version", "prompt_version")),
    ),
    EventTable(
        "cost_records",
        CostRecorded,
        (
            _APP,
            _MODEL,
            _CALL_ID,
            _text("prompt_name"),
            _number("prompt_version", "prompt_version"),
            _text("experiment_id"),
        ),
    ),
    EventTable("budget_events", BudgetStateChanged),
    EventTable("budget_configs", BudgetConfigured),
    EventTable("prices", PricePublished, (_MODEL,)),
    EventTable("audit_records", AuditRecorded),
    EventTable("audit_chain", AuditChained),
    EventTable("audit_digests", AuditDigest),
    EventTable("alerts", AlertStateChanged),
    # A request is stored with the keyed digest in place of the subject's value (llmops_warehouse.erasure).
    EventTable("erasure_requests", ErasureRequested, (_text("request_id"),)),
    EventTable("erasure_receipts", ErasureProcessed, (_text("request_id"),)),
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
    EventTable("review_queues", ReviewQueueConfigured),
    EventTable("review_items", ReviewItemUpdated, (_CALL_ID,)),
    EventTable("verdict_policies", VerdictPolicySet, (_text("experiment_id"),)),
    EventTable("dataset_examples", DatasetExampleAdded, key_pattern=r"[^:]+:[^:]+:[0-9]+:[0-9a-f]{12}:[^:]+"),
    EventTable("dataset_versions", DatasetVersionCreated, key_pattern=r"[^:]+:[^:]+:[0-9]+"),
    EventTable("runs", RunUpdated, (_RUN_ID,)),
    EventTable("api_keys", ApiKeyStateChanged),
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


def table_named(tables: Mapping[str, EventTable], name: str) -> EventTable:
    """The table called ``name``; ``ValueError`` naming the known ones when there is none."""
    try:
        return tables[name]
    except KeyError:
        raise ValueError(f"no event table {name!r}; known: {', '.join(sorted(tables))}") from None


def table_for_type(tables: Sequence[EventTable], event_type: str) -> EventTable | None:
    """The table of ``event_type``, or None when the warehouse does not store it."""
    return next((t for t in tables if t.event_type == event_type), None)
