"""The column mapping of ``calls``: one (column, extract, restore) entry per column.

``extract`` reads a column's value from a ``call.recorded`` event (the insert pivots a batch column by column
with it: ``list(map(extract, events))``, C-level ``attrgetter``s for plain fields); ``restore`` builds a
:class:`~llmops_warehouse.models.CallRow` field from a selected row. Adding a column to ``calls`` is a migration
and one entry here. The other event types are mapped in :mod:`llmops_warehouse.tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.calls import CallError, CallParameters, CallRecorded, ChatMessage, ExperimentRef, TokenUsage
from llmops_schemas.v1.common import PromptRef

from llmops_warehouse.models import epoch_ms, to_utc

__all__ = ["CALL_COLUMNS", "CALL_INSERT_COLUMNS", "CALL_SELECT_COLUMNS", "CallColumn", "call_row_fields", "call_values"]

Row = Mapping[str, Any]
"""A selected row by column name."""
Restore = Callable[[Row], Any]

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
