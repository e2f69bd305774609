"""A call record as the struct derived from ``CallRecorded``, from validation to the published bytes (ADR 0014).

Building the pydantic model and envelope of every record cost ingest about 30 µs a call; the derived structs of
:mod:`llmops_schemas.fastcodec` do the same work in about a third of that. The struct is an accept path only:
what it refuses, pydantic judges (:func:`~llmops_ingest.handlers.validate_call`), so every rejection and its
message are pydantic's. A record only pydantic accepts (lax input such as ``"3"`` for an int) continues as the
struct of what pydantic made of it. The event is encoded by msgspec as the same JSON value that
``CloudEvent.to_json_bytes()`` writes (tests/unit/ingest/test_ingest_structs.py holds it to that).
"""

from __future__ import annotations

from typing import Any

import msgspec
from llmops_kit.kafka.producer import EncodedEvent
from llmops_schemas.fastcodec import convert, producer_event_struct, producer_struct
from llmops_schemas.v2 import CallRecorded

__all__ = ["CALL_STRUCT", "Envelope", "decode_v2_body", "derived_call", "encode_call_event", "struct_of"]

CALL_STRUCT = producer_struct(CallRecorded)
"""The struct type of a call record as ingest validates and publishes it (what a redactor receives)."""
_EVENT_STRUCT = producer_event_struct(CallRecorded)
_DATASCHEMA = CallRecorded.dataschema()
_ENCODER = msgspec.json.Encoder()
_FROM_JSON = msgspec.json.Decoder(CALL_STRUCT)
_V2_BODY: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    msgspec.defstruct("CallsBody", [("calls", list[CALL_STRUCT])], forbid_unknown_fields=True)  # type: ignore[valid-type]
)
_BODY_REFUSES = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)


def decode_v2_body(body: bytes) -> list[Any] | None:
    """Every call of a batch body as :data:`CALL_STRUCT`, read straight from the bytes; None when any record is not
    a valid v2 call with its ``call_id`` (or the body is no ``{"calls": [...]}`` with one at least).

    The common case, a body of valid calls in the documented v2 shape, skips the generic JSON values that
    :func:`derived_call` converts record by record (about a third of the cost of validating a call, docs/adr/0063).
    None sends the whole body the general way, which judges each record (v1's shape, an id to derive, an error to
    explain). Only for a body that :func:`~llmops_schemas.fastcodec.reads_exactly` passed, as :func:`derived_call`.
    """
    try:
        calls: list[Any] = _V2_BODY.decode(body).calls
    except _BODY_REFUSES:
        return None
    return calls or None


def derived_call(record: Any) -> Any | None:
    """``record`` (a decoded JSON value in v2's shape) as :data:`CALL_STRUCT`, or None when pydantic must judge it.

    Only for records of a body that :func:`~llmops_schemas.fastcodec.reads_exactly` passed.
    """
    return convert(record, CALL_STRUCT)


def struct_of(call: CallRecorded) -> Any:
    """What pydantic accepted, as :data:`CALL_STRUCT` (read from its JSON, as a consumer reads the event)."""
    try:
        return _FROM_JSON.decode(call.model_dump_json(by_alias=True, exclude_none=True))
    except msgspec.ValidationError as exc:  # a derivation stricter than pydantic on normalised values: a defect
        raise RuntimeError(f"the derived call struct refuses a call pydantic accepted: {exc}") from exc


def encode_call_event(
    call: Any, *, event_id: str, source: str, tenant_id: str, trace_id: str | None, key_id: str | None
) -> EncodedEvent:
    """``call`` enveloped and serialised; the envelope's attributes are validated as ``CloudEvent.wrap`` does."""
    attributes = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": CallRecorded.event_type,
        "subject": call.call_id,
        "dataschema": _DATASCHEMA,
        "tenantid": tenant_id,
        "traceid": trace_id,
        "keyid": key_id,
        "data": call,
    }
    event = msgspec.convert(attributes, _EVENT_STRUCT)
    return EncodedEvent(CallRecorded.topic, tenant_id.encode(), CallRecorded.event_type, _ENCODER.encode(event))


class Envelope:
    """Envelopes the calls of one request: what their events share is checked once (docs/adr/0060).

    :func:`encode_call_event` validates every attribute of every event, as ``CloudEvent.wrap`` does. The attributes
    a request's events share (source, tenant, trace and key ids) are checked by the first event's conversion;
    later events are built from them directly, their own attributes valid by construction: the id that
    ``deterministic_uuid7`` made (36 characters, the envelope allows 64), the call id as subject (the call's schema
    allows 128 characters, the envelope 256) and the validated call as data (which a conversion passes through
    unchecked anyway). The bytes are the same (tests/unit/ingest/test_ingest_structs.py).
    """

    __slots__ = ("_checked", "_key_id", "_source", "_tenant_id", "_trace_id")

    def __init__(self, *, source: str, tenant_id: str, trace_id: str | None, key_id: str | None) -> None:
        self._source = source
        self._tenant_id = tenant_id
        self._trace_id = trace_id
        self._key_id = key_id
        self._checked = False

    def encode(self, call: Any, event_id: str) -> EncodedEvent:
        """``call`` enveloped as ``event_id`` and serialised."""
        if not self._checked:
            event = encode_call_event(
                call,
                event_id=event_id,
                source=self._source,
                tenant_id=self._tenant_id,
                trace_id=self._trace_id,
                key_id=self._key_id,
            )
            self._checked = True
            return event
        struct = _EVENT_STRUCT(
            specversion="1.0",
            id=event_id,
            source=self._source,
            type=CallRecorded.event_type,
            subject=call.call_id,
            dataschema=_DATASCHEMA,
            tenant_id=self._tenant_id,
            trace_id=self._trace_id,
            key_id=self._key_id,
            data=call,
        )
        return EncodedEvent(
            CallRecorded.topic, self._tenant_id.encode(), CallRecorded.event_type, _ENCODER.encode(struct)
        )
