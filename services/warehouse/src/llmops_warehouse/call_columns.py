"""The column mapping of ``calls``: one (column, extract, restore) entry per column.

````extract`` is the expression that reads a column's value from a ``call.recorded.v2`` event in its derived struct
form (:mod:`llmops_warehouse.call_events`; compiled once into one function per row, see :func:`_compile_row`; the
insert transposes the rows into columns). The values are those pydantic's serialisation gave (JSON columns are
written by the same serialiser, ``pydantic_core.to_json``); tests/unit/warehouse pins that. ``restore`` builds a
:class:`~llmops_warehouse.models.CallRow` field from a selected row. Adding a column to ``calls`` is a migration
and one entry here. The other event types are mapped in :mod:`llmops_warehouse.tables`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from llmops_schemas.v1.calls import CallError, CallParameters, ExperimentRef
from llmops_schemas.v1.common import PromptRef
from llmops_schemas.v2 import ChatMessage, Choice, RequestSummary, TokenUsage

from llmops_warehouse.call_events import EXTRACT_HELPERS, CallEvent, as_struct
from llmops_warehouse.models import epoch_ms, to_utc

__all__ = ["CALL_COLUMNS", "CALL_INSERT_COLUMNS", "CALL_SELECT_COLUMNS", "CallColumn", "call_row_fields", "call_values"]

Row = Mapping[str, Any]
"""A selected row by column name."""
Restore = Callable[[Row], Any]


@dataclass(frozen=True, slots=True)
class CallColumn:
    """A column of ``calls``.

    ``extract`` is a Python expression over the event struct ``e``, its payload ``d`` and ``m``, the message arrays
    (``message_columns(d.messages)``, made once per row) (None: the server fills the column in). ``restore``
    builds the :class:`CallRow` field ``field`` from the selected row; None where
    another column's ``restore`` reads this one too (the four message arrays make ``messages``).
    """

    name: str
    extract: str | None
    field: str | None = None
    restore: Restore | None = None


def _plain(name: str) -> CallColumn:
    return CallColumn(name, f"d.{name}", name, itemgetter(name))


def _blank(name: str) -> CallColumn:
    """An optional identifier: '' means absent (no Nullable overhead)."""
    return CallColumn(name, f"d.{name} or ''", name, lambda r: r[name] or None)


def _part(
    name: str, parent: str, attr: str, absent: str, field: str | None = None, restore: Restore | None = None
) -> CallColumn:
    """A column holding ``attr`` of the optional payload part ``parent``: ``absent`` when either is None."""
    value = f"d.{parent}.{attr}" if absent == "None" else f"(d.{parent}.{attr} or {absent})"
    return CallColumn(name, f"({absent} if d.{parent} is None else {value})", field, restore)


def _structure(encoded: str) -> dict[str, Any]:
    """A ``message_parts`` / ``message_tool_calls`` / ``choice_details`` entry: '' (nothing more) or a JSON object."""
    return json.loads(encoded) if encoded else {}


def _messages(r: Row) -> list[ChatMessage]:
    arrays = (r["message_roles"], r["message_contents"], r["message_names"], r["message_tool_call_ids"])
    count = len(r["message_roles"])
    # Rows written before migration 0005 have empty arrays here: plain text messages without tool calls.
    parts = r["message_parts"] or [""] * count
    tool_calls = r["message_tool_calls"] or [""] * count
    return [
        ChatMessage.model_validate(
            {"role": role, "content": content, "name": name or None, "tool_call_id": tool_call_id or None}
            | _structure(part)
            | _structure(calls)
        )
        for role, content, name, tool_call_id, part, calls in zip(*arrays, parts, tool_calls, strict=True)
    ]


def _choices(r: Row) -> list[Choice]:
    reasons = r["choice_finish_reasons"]
    if not reasons:  # no choice, or a row written before migration 0005: v1's one answer, if any
        answered = r["output"] is not None or r["finish_reason"]
        return [Choice(output=r["output"], finish_reason=r["finish_reason"] or None)] if answered else []
    outputs = [r["output"], *r["choice_outputs"]]
    return [
        Choice.model_validate({"output": output, "finish_reason": reason or None} | _structure(details))
        for output, reason, details in zip(outputs, reasons, r["choice_details"], strict=True)
    ]


def _usage(r: Row) -> TokenUsage | None:
    if r["total_tokens"] is None:
        return None
    return TokenUsage(
        prompt_tokens=r["prompt_tokens"],
        completion_tokens=r["completion_tokens"],
        total_tokens=r["total_tokens"],
        cached_prompt_tokens=r["cached_prompt_tokens"],
        cache_write_tokens=r["cache_write_tokens"],
        reasoning_tokens=r["reasoning_tokens"],
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
    CallColumn("tenant_id", "e.tenant_id", "tenant_id", itemgetter("tenant_id")),
    _plain("call_id"),
    _blank("trace_id"),
    _plain("app"),
    _plain("environment"),
    _blank("user_id"),
    _blank("session_id"),
    _plain("model"),
    _plain("provider"),
    # m: the six message arrays, made in one pass (call_events.message_columns says what each holds)
    CallColumn("message_roles", "m[0]", "messages", _messages),
    CallColumn("message_contents", "m[1]"),
    CallColumn("message_names", "m[2]"),
    CallColumn("message_tool_call_ids", "m[3]"),
    CallColumn("message_parts", "m[4]"),
    CallColumn("message_tool_calls", "m[5]"),
    # for text search only: the tool calls hold them
    CallColumn("tool_arguments", "tool_arguments(d.messages, d.choices)"),
    CallColumn("output", "(d.choices[0].output if d.choices else None)", "output", itemgetter("output")),
    CallColumn(
        "finish_reason",
        "((d.choices[0].finish_reason if d.choices else None) or '')",
        "finish_reason",
        lambda r: r["finish_reason"] or None,
    ),
    CallColumn("choice_outputs", "[c.output for c in d.choices[1:]]", "choices", _choices),
    CallColumn("choice_finish_reasons", "[c.finish_reason or '' for c in d.choices]"),
    CallColumn("choice_details", "[choice_details(c) for c in d.choices]"),
    CallColumn(
        "parameters",
        "json_of(set_fields(d.parameters))",
        "parameters",
        lambda r: CallParameters.model_validate_json(r["parameters"]) if r["parameters"] != "{}" else CallParameters(),
    ),
    CallColumn(
        "request",
        "'' if d.request is None else json_of(without_none(d.request))",
        "request",
        lambda r: RequestSummary.model_validate_json(r["request"]) if r["request"] else None,
    ),
    _part("prompt_tokens", "usage", "prompt_tokens", "None"),
    _part("completion_tokens", "usage", "completion_tokens", "None"),
    _part("total_tokens", "usage", "total_tokens", "None", "usage", _usage),
    _part("cached_prompt_tokens", "usage", "cached_prompt_tokens", "None"),
    _part("cache_write_tokens", "usage", "cache_write_tokens", "None"),
    _part("reasoning_tokens", "usage", "reasoning_tokens", "None"),
    CallColumn("latency_ms", "d.latency_ms", "latency_ms", itemgetter("latency_ms")),
    CallColumn("ttft_ms", "d.time_to_first_token_ms", "time_to_first_token_ms", itemgetter("ttft_ms")),
    _plain("status"),
    _part("error_type", "error", "type", "''", "error", _error),
    _part("error_message", "error", "message", "''"),
    _part("error_code", "error", "code", "''"),
    _part("prompt_name", "prompt", "name", "''", "prompt", _prompt),
    _part("prompt_version", "prompt", "version", "0"),
    _part("prompt_label", "prompt", "label", "''"),
    _part("experiment_id", "experiment", "experiment_id", "''", "experiment", _experiment),
    _part("experiment_variant", "experiment", "variant", "''"),
    _part("is_shadow", "experiment", "shadow", "False"),
    CallColumn("tags", "d.tags", "tags", lambda r: list(r["tags"])),
    CallColumn("metadata", "d.metadata", "metadata", lambda r: dict(r["metadata"])),
    _plain("origin"),
    CallColumn("source", "e.source", "source", itemgetter("source")),
    CallColumn("key_id", "e.key_id or ''", "key_id", lambda r: r["key_id"] or None),
    CallColumn("started_at", "epoch_ms(d.started_at)", "started_at", _at("started_at")),
    CallColumn("received_at", "epoch_ms(e.time)", "received_at", _at("received_at")),
    CallColumn("ingested_at", None, "ingested_at", _at("ingested_at")),
)
"""Every column of ``calls`` but ``event_id`` (the store writes the id it deduplicated on)."""

CALL_INSERT_COLUMNS: tuple[str, ...] = ("event_id", *(c.name for c in CALL_COLUMNS if c.extract is not None))
CALL_SELECT_COLUMNS: tuple[str, ...] = ("event_id", *(c.name for c in CALL_COLUMNS))
_RESTORES = tuple((c.field, c.restore) for c in CALL_COLUMNS if c.field is not None and c.restore is not None)


def _compile_row(columns: Sequence[CallColumn]) -> Callable[[Any], tuple[Any, ...]]:
    """One function returning an event's insert values, compiled once from the ``extract`` expressions.

    Why generated: one Python call per event (attribute reads inlined) instead of one per column, which cost
    2.5 times as much on the hot path. The source is this module's own constants, never outside input.
    """
    values = ", ".join(c.extract for c in columns if c.extract is not None)
    source = f"def row(e):\n    d = e.data\n    m = message_columns(d.messages)\n    return ({values},)\n"
    namespace: dict[str, Any] = {"epoch_ms": epoch_ms, **EXTRACT_HELPERS}
    exec(compile(source, "<calls columns>", "exec"), namespace)  # noqa: S102 - module constants only
    row: Callable[[Any], tuple[Any, ...]] = namespace["row"]
    return row


_ROW = _compile_row(CALL_COLUMNS)


def call_values(events: Sequence[CallEvent]) -> list[list[Any]]:
    """The insert columns but ``event_id`` for ``events``, column by column (a column-oriented insert)."""
    if not events:
        return [[] for _ in CALL_INSERT_COLUMNS[1:]]
    return [list(column) for column in zip(*(_ROW(as_struct(e)) for e in events), strict=True)]


def call_row_fields(row: Sequence[Any]) -> dict[str, Any]:
    """The :class:`CallRow` fields of a row selected as :data:`CALL_SELECT_COLUMNS`."""
    named = dict(zip(CALL_SELECT_COLUMNS, row, strict=True))
    fields = {name: restore(named) for name, restore in _RESTORES}
    fields["event_id"] = str(named["event_id"])
    return fields
