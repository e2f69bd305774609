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
from llmops_schemas.fastcodec import event_decoder, event_struct, to_struct
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import CallRecorded

__all__ = ["CallEvent", "as_model", "as_struct", "decode_call", "is_call_event"]

_DECODER = event_decoder(CallRecorded)
_STRUCT = event_struct(CallRecorded)


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


def is_call_event(item: object) -> bool:
    """Whether ``item`` is a call event (either form)."""
    return isinstance(item, _STRUCT) or (isinstance(item, CloudEvent) and isinstance(item.data, CallRecorded))


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
