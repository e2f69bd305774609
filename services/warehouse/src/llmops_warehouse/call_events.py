"""The call events the warehouse stores, as the derived struct from the record to the insert (docs/adr/0014).

A ``llmops.call.recorded`` record is decoded by the struct derived from ``CloudEvent[CallRecorded]``
(:mod:`llmops_schemas.fastcodec`): building pydantic objects would cost more than the decoding saves, so the
consumer and the ClickHouse store work on the struct end to end. What the derived decoder refuses goes to
``parse_event``, which accepts it (lax input, a v1 event it upcasts) or rejects it with the message the DLQ
carries, exactly as before. The store port takes either form (:data:`CallEvent`); each store normalises at its
boundary with :func:`as_struct` or :func:`as_model`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import msgspec
from llmops_kit.errors import PermanentError
from llmops_schemas.envelope import CloudEvent, envelope_class
from llmops_schemas.fastcodec import event_decoder, to_struct
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import CallRecorded, Choice
from llmops_schemas.v2.call_parts import tool_arguments
from pydantic_core import to_json

__all__ = ["EXTRACT_HELPERS", "CallEvent", "as_model", "as_struct", "decode_call"]

_DECODER = event_decoder(CallRecorded)


class CallEvent(Protocol):
    """A ``call.recorded.v2`` event: a pydantic ``CloudEvent[CallRecorded]`` or its derived struct.

    Both have these attributes; ``data`` is the payload in the same form (model or struct, same attributes).
    """

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def key_id(self) -> str | None: ...
    @property
    def time(self) -> datetime: ...
    @property
    def data(self) -> Any: ...


def decode_call(raw: bytes, topic: str) -> CallEvent:
    """The struct of a ``call.recorded`` record; raises ``EventValidationError`` or ``PermanentError``.

    A v2 event as the platform writes it takes the derived decoder; anything else is parsed by pydantic
    (and upcast), which also decides every rejection and its message.
    """
    event: CallEvent | None = _DECODER.decode(raw)
    if event is not None and event.type == CallRecorded.event_type:
        return event
    parsed = parse_event(raw, expect=CallRecorded)
    if not isinstance(parsed.data, CallRecorded):
        raise PermanentError(f"expected {CallRecorded.event_type} on {topic}, got {parsed.type}")
    converted: CallEvent = as_struct(parsed)  # the struct has the protocol's attributes (tests pin it)
    return converted


def as_struct(event: CallEvent) -> Any:
    """``event`` as the derived struct (converted when it is a pydantic event)."""
    if isinstance(event, CloudEvent):
        return to_struct(event)
    return event


def as_model(event: CallEvent) -> CloudEvent[CallRecorded]:
    """``event`` as a pydantic ``CloudEvent[CallRecorded]`` (validated again when it is a struct)."""
    if isinstance(event, CloudEvent):
        return event
    model: CloudEvent[CallRecorded] = envelope_class(CallRecorded).model_validate(msgspec.to_builtins(event))
    return model


# --- what the calls columns' extract expressions call: pydantic's methods and serialisations, on the struct


def _json(value: Any) -> str:
    """JSON as pydantic writes it (``model_dump_json`` and ``to_json`` share the serialiser: floats, escapes)."""
    return to_json(msgspec.to_builtins(value)).decode()


def _message_columns(messages: Any) -> tuple[list[str], ...]:
    """The six message arrays of ``calls`` in one pass over the messages (six comprehensions cost twice as much):
    role; ``ChatMessage.text()`` (the string content, or its text parts one per line, '' when none); name and
    tool call id ('' when absent); the content parts as JSON ('' for a string content); the tool calls as JSON
    ('' when none)."""
    roles: list[str] = []
    texts: list[str] = []
    names: list[str] = []
    call_ids: list[str] = []
    parts: list[str] = []
    tool_calls: list[str] = []
    for m in messages:
        content = m.content
        roles.append(m.role)
        if isinstance(content, str):
            texts.append(content)
            parts.append("")
        else:
            texts.append("\n".join(p.text for p in content if p.type == "text") if content else "")
            parts.append(_json({"content": content}))
        names.append(m.name or "")
        call_ids.append(m.tool_call_id or "")
        tool_calls.append("" if m.tool_calls is None else _json({"tool_calls": m.tool_calls}))
    return roles, texts, names, call_ids, parts, tool_calls


def _without_none(value: Any) -> Any:
    """``exclude_none``: the builtins of ``value`` without None-valued fields, at every depth."""
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _choice_details(choice: Any) -> str:
    """A choice's details beyond its text and finish reason, without None-valued fields ('' when none).

    Before, an explicitly null detail made this '{}' (pydantic's ``model_fields_set``); a struct cannot tell
    explicit from absent, so it is '' now: both read back as the same choice.
    """
    details = {name: value for name in _CHOICE_DETAILS if (value := getattr(choice, name)) is not None}
    return _json(_without_none(details)) if details else ""


def _set_fields(struct: msgspec.Struct) -> dict[str, Any]:
    """``exclude_defaults``: the fields whose value is not the field's default."""
    fields = _defaults(type(struct))
    return {wire: value for name, wire, default in fields if (value := getattr(struct, name)) != default}


_DEFAULTS: dict[type[msgspec.Struct], tuple[tuple[str, str, Any], ...]] = {}


def _defaults(struct: type[msgspec.Struct]) -> tuple[tuple[str, str, Any], ...]:
    """(name, wire name, default value) of each field, looked up once (``fields`` is slow); a factory's value is
    made once too, only ever compared with."""
    if struct not in _DEFAULTS:
        fields = msgspec.structs.fields(struct)
        _DEFAULTS[struct] = tuple(
            (f.name, f.encode_name, f.default if f.default_factory is msgspec.NODEFAULT else f.default_factory())
            for f in fields
        )
    return _DEFAULTS[struct]


_CHOICE_DETAILS = tuple(name for name in Choice.model_fields if name not in {"output", "finish_reason"})

EXTRACT_HELPERS: dict[str, Any] = {
    "json_of": _json,
    "message_columns": _message_columns,
    "tool_arguments": tool_arguments,
    "without_none": _without_none,
    "choice_details": _choice_details,
    "set_fields": _set_fields,
}
"""The names :mod:`llmops_warehouse.call_columns`' extract expressions use besides the event and its payload."""
