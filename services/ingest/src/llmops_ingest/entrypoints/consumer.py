"""The raw-topic consumer: ``llmops.calls.raw`` (raw JSON records) -> ``llmops.calls.recorded`` (CloudEvents).

Producers that speak Kafka directly write one CallRecorded JSON object per record. The tenant is the
``tenant_id`` header; when that header is absent, the record key is the tenant (the topic catalog keys
``llmops.calls.raw`` by tenant). A header and key that disagree, or a tenant that does not match the
tenant pattern, make the record invalid: Kafka ACLs, not API keys, are the trust boundary here.

Decoding runs the same handler as the HTTP path; a record that fails it makes the decoder raise, and
the kit's :class:`~llmops_kit.kafka.consumer.ConsumerLoop` dead-letters it to ``llmops.calls.raw.dlq``
with the original bytes and the error, while the rest of the batch flows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from aiokafka.errors import KafkaError
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.http.edge import trace_id_of
from llmops_kit.kafka.consumer import BatchHandler, ConsumedMessage, Delivery
from llmops_kit.kafka.publisher import EncodedEvent, EventPublisher
from llmops_schemas.envelope import TENANT_PATTERN
from llmops_schemas.fastcodec import reads_exactly
from llmops_schemas.ids import deterministic_uuid7

from llmops_ingest.handlers import Accepted, IngestContext, RecordRules, prepare_record
from llmops_ingest.metrics import count_records
from llmops_ingest.ports import Redactor
from llmops_ingest.wire import WireError, decode_json

__all__ = ["TENANT_HEADER", "InvalidRawRecord", "RawCallDecoder", "make_raw_handler", "raw_call_id", "tenant_of"]

TENANT_HEADER = "tenant_id"
_TENANT_RE = re.compile(TENANT_PATTERN)


class InvalidRawRecord(PermanentError):
    """The raw record can never become an event (bad tenant, bad JSON, or a record that fails validation)."""


def _decode_tenant(value: bytes, where: str) -> str:
    try:
        tenant = value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRawRecord(f"the tenant in the {where} is not UTF-8") from None
    if not _TENANT_RE.fullmatch(tenant):
        raise InvalidRawRecord(f"the tenant {tenant[:80]!r} in the {where} does not match {TENANT_PATTERN}")
    return tenant


def tenant_of(message: ConsumedMessage) -> str:
    """The record's tenant: the ``tenant_id`` header, else the record key; both present must agree."""
    headers = {value for name, value in message.headers if name == TENANT_HEADER}
    if len(headers) > 1:
        raise InvalidRawRecord(f"conflicting '{TENANT_HEADER}' headers")
    from_header = _decode_tenant(headers.pop(), "header") if headers else None
    from_key = _decode_tenant(message.key, "record key") if message.key else None
    if from_header and from_key and from_header != from_key:
        raise InvalidRawRecord(f"the '{TENANT_HEADER}' header and the record key name different tenants")
    tenant = from_header or from_key
    if tenant is None:
        raise InvalidRawRecord(f"no tenant: set the '{TENANT_HEADER}' header (or the record key)")
    return tenant


def _header(message: ConsumedMessage, name: str) -> bytes | None:
    return next((value for key, value in message.headers if key == name), None)


def raw_call_id(message: ConsumedMessage) -> str:
    """A call id for a record that has none, derived from its position so a redelivery gets the same one."""
    position = (message.topic, str(message.partition), str(message.offset))
    return deterministic_uuid7(message.timestamp_ms, "raw", *position)


class RawCallDecoder:
    """Decoder for the consumer loop: raw record -> encoded CloudEvent, or :class:`InvalidRawRecord`."""

    def __init__(self, *, source: str, redactor: Redactor, clock: Callable[[], datetime], rules: RecordRules) -> None:
        self._source = source
        self._redactor = redactor
        self._clock = clock
        self._rules = rules

    def __call__(self, message: ConsumedMessage) -> EncodedEvent:
        try:
            tenant = tenant_of(message)
        except InvalidRawRecord:
            count_records("kafka", "tenant")
            raise
        try:
            document = decode_json(message.value)
        except WireError as exc:
            count_records("kafka", "json")
            raise InvalidRawRecord(str(exc)) from None
        context = IngestContext(
            tenant_id=tenant,
            source=self._source,
            now=self._clock(),
            redactor=self._redactor,
            rules=self._rules,
            trace_id=trace_id_of(_header(message, "traceparent")),
            derived=reads_exactly(message.value),
        )
        outcome = prepare_record(document, 0, context, fallback_call_id=raw_call_id(message))
        if not isinstance(outcome, Accepted):
            count_records("kafka", outcome.reason)
            # JSON so that whoever replays the DLQ can read the errors back programmatically.
            raise InvalidRawRecord(json.dumps(outcome.errors, ensure_ascii=False))
        return outcome.event


def dead_letter_protector(redactor: Redactor) -> Callable[[ConsumedMessage], bytes]:
    """What the DLQ keeps of a refused raw record: its bytes redacted with its tenant's policy (ADR 0035); a
    record without a valid tenant gets the default policy."""

    def protect(message: ConsumedMessage) -> bytes:
        try:
            tenant = tenant_of(message)
        except InvalidRawRecord:
            tenant = ""
        return redactor.protect_dead_letter(message.value, tenant_id=tenant)

    return protect


def make_raw_handler(publisher: EventPublisher) -> BatchHandler[EncodedEvent]:
    """Publishes a decoded batch; a Kafka failure is transient (retry later, dead-letter nothing)."""

    async def handle(deliveries: Sequence[Delivery[EncodedEvent]]) -> None:
        try:
            await publisher.publish_encoded([d.item for d in deliveries])
        except KafkaError as exc:
            raise TransientError(f"publish to the recorded topic failed: {exc}") from exc
        count_records("kafka", "ok", len(deliveries))

    return handle
