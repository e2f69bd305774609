"""The one validation path every call record takes, whichever entrypoint it arrived by.

``prepare_record`` turns one decoded JSON value into either an event ready to publish or a list of
errors: schema validation with the strict producer model, the contextual timestamp rule, the
redaction hook, the envelope, and the per-record size limit, in that order. ``publish_accepted``
hands the events to an :class:`~llmops_kit.kafka.publisher.EventPublisher`. Nothing here knows about HTTP
or Kafka consumers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.ids import deterministic_uuid7, new_uuid7
from llmops_schemas.v1.calls import CallRecorded
from pydantic import ValidationError

from llmops_ingest.metrics import Reason
from llmops_ingest.ports import Redactor

__all__ = [
    "Accepted",
    "BatchOutcome",
    "FieldError",
    "IngestContext",
    "RecordRules",
    "Rejected",
    "check_started_at",
    "prepare_batch",
    "prepare_record",
    "publish_accepted",
]

FieldError = dict[str, Any]
"""``{"loc": [...], "msg": "...", "type": "..."}``, the shape pydantic uses, relative to the record."""

# A pathological record (thousands of bad messages, deeply nested metadata) must not turn the
# response into megabytes of errors: the first few locate the problem well enough.
MAX_ERRORS_PER_RECORD = 20
MAX_LOC_DEPTH = 16


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


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid record, enveloped and ready to publish."""

    index: int
    event: CloudEvent[EventPayload]
    value: bytes
    """The event as published (serialised once, for the size check, and reused by the publish)."""

    @property
    def call_id(self) -> str:
        return cast("CallRecorded", self.event.data).call_id

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "call_id": self.call_id, "event_id": self.event.id}


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


def _validation_errors(exc: ValidationError) -> list[FieldError]:
    # No input echo: it can be a megabyte of prompt, or personal data that belongs in no response.
    details = exc.errors(include_url=False, include_input=False, include_context=False)
    return [_error(e["loc"], e["msg"], e["type"]) for e in details[:MAX_ERRORS_PER_RECORD]]


def _with_call_id(raw: Any, fallback_call_id: str | None) -> tuple[Any, bool]:
    """Fill in a missing (absent or null) ``call_id``; also say whether the id is stable across retries."""
    if isinstance(raw, dict) and raw.get("call_id") is None:
        return {**raw, "call_id": fallback_call_id or new_uuid7()}, fallback_call_id is not None
    return raw, True


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


def prepare_record(
    raw: Any, index: int, context: IngestContext, *, fallback_call_id: str | None = None
) -> Accepted | Rejected:
    """Validate one decoded record and envelope it, or explain why not.

    ``fallback_call_id`` replaces a missing ``call_id`` with a stable one (the raw consumer derives it
    from the Kafka position, so a redelivery yields the same event); without it a fresh UUIDv7 is used.
    """
    record, stable_id = _with_call_id(raw, fallback_call_id)
    try:
        call = CallRecorded.model_validate(record)
    except ValidationError as exc:
        return Rejected(index, _validation_errors(exc), "schema")
    timestamp_errors = check_started_at(call.started_at, context.now, context.rules)
    if timestamp_errors:
        return Rejected(index, timestamp_errors, "timestamp")
    call = context.redactor.redact(call, tenant_id=context.tenant_id)
    # Same tenant + call id + start time => same event id, so a retried submission is deduplicated
    # downstream instead of counted twice.
    started_ms = int(call.started_at.timestamp() * 1000)
    event_id = deterministic_uuid7(started_ms, context.tenant_id, call.call_id) if stable_id else None
    event = CloudEvent.wrap(
        call,
        source=context.source,
        tenant_id=context.tenant_id,
        event_id=event_id,
        subject=call.call_id,
        trace_id=context.trace_id,
    )
    value = event.to_json_bytes()
    size = len(value)
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
    return Accepted(index, cast("CloudEvent[EventPayload]", event), value)


def prepare_batch(records: Sequence[Any], context: IngestContext) -> BatchOutcome:
    """``prepare_record`` for each record, one by one, so one bad record never sinks the others."""
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(records):
        outcome = prepare_record(raw, index, context)
        if isinstance(outcome, Accepted):
            accepted.append(outcome)
        else:
            rejected.append(outcome)
    return BatchOutcome(accepted, rejected)


async def publish_accepted(publisher: EventPublisher, accepted: Sequence[Accepted]) -> None:
    """Publish the events and wait for every acknowledgement (raises if any is missing)."""
    if accepted:
        await publisher.publish_many([a.event for a in accepted], encoded=[a.value for a in accepted])
