"""The one validation path every call record takes, whichever entrypoint it arrived by.

``prepare_record`` turns one decoded JSON value into either an event ready to publish or a list of
errors: schema validation (a record of the v1 shape is reshaped first, see :func:`validate_call`), the origin
and timestamp rules, the redaction hook (a record whose personal data the tenant's policy blocks is refused),
the envelope, and the per-record size limit, in that order (publishing
to an :class:`~llmops_kit.kafka.publisher.EventPublisher` is :mod:`llmops_ingest.publishing`). A record is
validated as the struct derived from the strict producer model, and pydantic judges whatever that refuses
(:mod:`llmops_ingest.call_structs`, ADR 0014). Nothing here knows about HTTP or Kafka consumers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from llmops_kit.kafka.producer import MAX_RECORD_BYTES, EncodedEvent
from llmops_pii.redact import PiiBlocked
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v2 import CallRecorded
from llmops_schemas.v2.calls import v1_data_as_v2
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from llmops_ingest.call_structs import Envelope, derived_call, struct_of
from llmops_ingest.metrics import Reason
from llmops_ingest.ports import Redactor

__all__ = [
    "Accepted",
    "BatchOutcome",
    "FieldError",
    "IngestContext",
    "RecordRules",
    "Rejected",
    "check_origin",
    "check_started_at",
    "content_call_id",
    "envelope_of",
    "is_v1_shape",
    "prepare_batch",
    "prepare_call",
    "prepare_record",
    "validate_call",
]

FieldError = dict[str, Any]
"""``{"loc": [...], "msg": "...", "type": "..."}``, the shape pydantic uses, relative to the record."""

# A pathological record (thousands of bad messages, deeply nested metadata) must not turn the
# response into megabytes of errors: the first few locate the problem well enough.
MAX_ERRORS_PER_RECORD = 20
MAX_LOC_DEPTH = 16
_NOT_UNICODE = "the record holds a string that is not valid Unicode (an escaped lone surrogate)"
_CALL_ID_NAMESPACE = uuid.UUID("5b3c1f0e-7a8d-5e2b-9c4f-6d1a2b3c4d5e")
"""UUIDv5 namespace of the call ids ingest derives from a record's content."""


@dataclass(frozen=True, slots=True)
class RecordRules:
    """Contextual limits beyond the schema (kept out of the schema so replays of old events stay valid)."""

    max_future_skew: timedelta = timedelta(minutes=5)
    retention: timedelta = timedelta(days=90)
    max_record_bytes: int = MAX_RECORD_BYTES


@dataclass(frozen=True, slots=True)
class IngestContext:
    """Everything a record is judged against: whose it is, when "now" is, and the rules."""

    tenant_id: str
    source: str
    now: datetime
    redactor: Redactor
    rules: RecordRules = field(default_factory=RecordRules)
    trace_id: str | None = None
    """W3C trace id of the request (HTTP ``traceparent``) or record that carried the call, if any."""
    key_id: str | None = None
    """Id of the API key the record was submitted under (HTTP); None on the raw topic, which has no key."""
    derived: bool = False
    """Whether the derived struct may accept records: entrypoints set it when the bytes the records came in hold
    nothing msgspec reads differently from pydantic (:func:`~llmops_schemas.fastcodec.reads_exactly`); otherwise
    pydantic validates every record."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid record, enveloped and serialised, ready to publish."""

    index: int
    call_id: str
    event_id: str
    event: EncodedEvent

    @property
    def value(self) -> bytes:
        """The event as published (serialised once, for the size check, and reused by the publish)."""
        return self.event.value

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "call_id": self.call_id, "event_id": self.event_id}


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid record: where it was in the input and why it failed."""

    index: int
    errors: list[FieldError]
    reason: Reason

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "errors": self.errors}


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    accepted: list[Accepted]
    rejected: list[Rejected]


def _error(loc: Sequence[str | int], msg: str, type_: str) -> FieldError:
    return {"loc": list(loc)[:MAX_LOC_DEPTH], "msg": msg, "type": type_}


def _validation_errors(exc: ValidationError, *, v1_shape: bool = False) -> list[FieldError]:
    # No input echo: it can be a megabyte of prompt, or personal data that belongs in no response.
    details = exc.errors(include_url=False, include_input=False, include_context=False)
    return [_error(_as_sent(e["loc"], v1_shape), e["msg"], e["type"]) for e in details[:MAX_ERRORS_PER_RECORD]]


def _as_sent(loc: Sequence[str | int], v1_shape: bool) -> Sequence[str | int]:
    """``loc`` in the shape the record was sent in: a v1 record's first choice is its ``output``/``finish_reason``."""
    if v1_shape and len(loc) >= 3 and loc[0] == "choices" and loc[1] == 0 and loc[2] in V1_ONLY_FIELDS:
        return loc[2:]
    return loc


def content_call_id(raw: dict[str, Any], tenant_id: str) -> str:
    """A call id derived from the record's content and tenant, so a retried record gets the same one.

    The record is hashed as canonical JSON (sorted keys, no spaces, ASCII escapes), ``call_id`` left out:
    two submissions identical in every field are the same call.
    """
    canonical = json.dumps({k: v for k, v in raw.items() if k != "call_id"}, sort_keys=True, separators=(",", ":"))
    return str(uuid.uuid5(_CALL_ID_NAMESPACE, f"{tenant_id}\x1f{canonical}"))


def _with_call_id(raw: Any, tenant_id: str, fallback_call_id: str | None) -> Any:
    """Fill in a missing (absent or null) ``call_id`` with a stable one: a retry must yield the same event."""
    if isinstance(raw, dict) and raw.get("call_id") is None:
        return {**raw, "call_id": fallback_call_id or content_call_id(raw, tenant_id)}
    return raw


V1_ONLY_FIELDS = ("output", "finish_reason")
"""Fields only the v1 record shape has: a record with one of them (and no ``choices``) is a v1 record."""


def is_v1_shape(record: Any) -> bool:
    """Whether ``record`` spells its answer as v1 did (``output`` / ``finish_reason``, no ``choices``)."""
    # keys().isdisjoint looks the two names up in the dict: a quarter of any() over a generator, on every record
    return isinstance(record, dict) and "choices" not in record and not record.keys().isdisjoint(V1_ONLY_FIELDS)


def _v2_shaped(record: Any) -> Any:
    """A record of the v1 shape as v2 (its answer the first choice, as the upcaster does), any other as it is."""
    return v1_data_as_v2(record) if is_v1_shape(record) else record


def validate_call(record: Any) -> CallRecorded:
    """``record`` as a v2 call, validated by pydantic, which judges every record the derived struct refuses.

    v1-shaped records are validated as v2 once reshaped: v1 clients keep working at v2's cost."""
    return CallRecorded.model_validate(_v2_shaped(record))


def _validated(record: Any, derived: bool) -> Any:
    """``record`` as the call struct, or the :class:`ValidationError` pydantic raises for it."""
    call = derived_call(_v2_shaped(record)) if derived else None
    return call if call is not None else struct_of(validate_call(record))


def check_origin(call: Any) -> list[FieldError]:
    """Only the gateway marks platform traffic (from the calling key's role); a submitted call never is."""
    if call.origin == "application":
        return []
    return [
        _error(
            ["origin"],
            "origin 'platform' is set by the gateway for calls the platform makes itself; a call submitted "
            "to ingest is an application call (omit origin or send 'application')",
            "origin_not_allowed",
        )
    ]


def check_started_at(started_at: datetime, now: datetime, rules: RecordRules) -> list[FieldError]:
    """The timestamp rule: at most ``max_future_skew`` ahead of ``now``, not older than the retention.

    Naive timestamps never get here: the schema (``AwareDatetime``) already refuses them.
    """
    if started_at > now + rules.max_future_skew:
        ahead = (started_at - now).total_seconds()
        return [
            _error(
                ["started_at"],
                f"started_at is {ahead:.0f}s in the future; at most "
                f"{rules.max_future_skew.total_seconds():.0f}s of clock skew is allowed",
                "timestamp_in_future",
            )
        ]
    if started_at < now - rules.retention:
        return [
            _error(
                ["started_at"],
                f"started_at is older than the {rules.retention.days}-day retention of calls; "
                "the warehouse would delete it on arrival",
                "timestamp_too_old",
            )
        ]
    return []


def envelope_of(context: IngestContext) -> Envelope:
    """The :class:`Envelope` of the events of ``context``'s records."""
    return Envelope(
        source=context.source, tenant_id=context.tenant_id, trace_id=context.trace_id, key_id=context.key_id
    )


def prepare_record(
    raw: Any,
    index: int,
    context: IngestContext,
    *,
    fallback_call_id: str | None = None,
    envelope: Envelope | None = None,
) -> Accepted | Rejected:
    """Validate one decoded record and envelope it, or explain why not.

    ``fallback_call_id`` replaces a missing ``call_id`` (the raw consumer derives it from the Kafka
    position, so a redelivery yields the same event); without it the id is :func:`content_call_id`.
    ``envelope`` is the batch's (:func:`envelope_of` ``context``), shared by its records.
    """
    record = _with_call_id(raw, context.tenant_id, fallback_call_id)
    try:
        call = _validated(record, context.derived)
    except ValidationError as exc:
        return Rejected(index, _validation_errors(exc, v1_shape=is_v1_shape(record)), "schema")
    except PydanticSerializationError:  # pydantic lets a lone surrogate into a JSON value, and cannot write it
        return Rejected(index, [_error([], _NOT_UNICODE, "string_unicode")], "schema")
    return prepare_call(call, index, context, envelope or envelope_of(context))


def prepare_call(call: Any, index: int, context: IngestContext, envelope: Envelope) -> Accepted | Rejected:
    """The rest of :func:`prepare_record` for a call the schema accepted (its struct): the rules, the redaction,
    the event id and the envelope."""
    origin_errors = check_origin(call)
    if origin_errors:
        return Rejected(index, origin_errors, "origin")
    timestamp_errors = check_started_at(call.started_at, context.now, context.rules)
    if timestamp_errors:
        return Rejected(index, timestamp_errors, "timestamp")
    try:
        call = context.redactor.redact(call, tenant_id=context.tenant_id)
    except PiiBlocked as exc:
        return Rejected(index, [_error([], str(exc), "pii_blocked")], "pii")
    # Same tenant + call id + start time => same event id, so a retried submission is deduplicated
    # downstream instead of counted twice.
    started_ms = int(call.started_at.timestamp() * 1000)
    event_id = deterministic_uuid7(started_ms, context.tenant_id, call.call_id)
    event = envelope.encode(call, event_id)
    size = len(event.value)
    if size > context.rules.max_record_bytes:
        return Rejected(
            index,
            [
                _error(
                    [],
                    f"the record is {size} bytes as an event; the limit is {context.rules.max_record_bytes} bytes",
                    "record_too_large",
                )
            ],
            "size",
        )
    return Accepted(index, call.call_id, event_id, event)


def prepare_batch(records: Sequence[Any], context: IngestContext, *, validated: bool = False) -> BatchOutcome:
    """``prepare_record`` for each record, one by one, so one bad record never sinks the others; ``validated``:
    the records are call structs the schema accepted already (:func:`~llmops_ingest.call_structs.decode_v2_body`),
    and :func:`prepare_call` does the rest."""
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    envelope = envelope_of(context)
    for index, raw in enumerate(records):
        if validated:
            outcome = prepare_call(raw, index, context, envelope)
        else:
            outcome = prepare_record(raw, index, context, envelope=envelope)
        if isinstance(outcome, Accepted):
            accepted.append(outcome)
        else:
            rejected.append(outcome)
    return BatchOutcome(accepted, rejected)
