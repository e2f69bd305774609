"""The raw-topic decoder and handler, without a broker: tenant rule, one validation path, failure classes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from llmops_ingest.adapters import NoopRedactor
from llmops_ingest.entrypoints.consumer import (
    InvalidRawRecord,
    RawCallDecoder,
    make_raw_handler,
    raw_call_id,
    tenant_of,
)
from llmops_ingest.handlers import RecordRules
from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.consumer import ConsumedMessage, Delivery
from llmops_kit.kafka.publisher import EncodedEvent, InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import parse_event

MakeCall = Callable[..., dict[str, Any]]


def message(
    value: bytes | dict[str, Any],
    *,
    key: bytes | None = None,
    headers: tuple[tuple[str, bytes], ...] = (("tenant_id", b"acme"),),
    offset: int = 7,
) -> ConsumedMessage:
    raw = json.dumps(value).encode() if isinstance(value, dict) else value
    return ConsumedMessage("llmops.calls.raw", 1, offset, key, raw, headers, 1_772_366_400_000)


@pytest.fixture
def decode(now: datetime) -> RawCallDecoder:
    return RawCallDecoder(source="/services/ingest", redactor=NoopRedactor(), clock=lambda: now, rules=RecordRules())


@pytest.mark.parametrize(
    ("key", "headers", "tenant"),
    [
        (None, (("tenant_id", b"acme"),), "acme"),
        (b"acme", (), "acme"),
        (b"acme", (("tenant_id", b"acme"), ("other", b"x")), "acme"),
    ],
)
def test_tenant_from_header_or_key(key: bytes | None, headers: tuple[tuple[str, bytes], ...], tenant: str) -> None:
    assert tenant_of(message(b"{}", key=key, headers=headers)) == tenant


@pytest.mark.parametrize(
    ("key", "headers", "needle"),
    [
        (None, (), "no tenant"),
        (b"", (), "no tenant"),
        (b"globex", (("tenant_id", b"acme"),), "different tenants"),
        (None, (("tenant_id", b"acme"), ("tenant_id", b"globex")), "conflicting"),
        (None, (("tenant_id", b"Acme Corp"),), "does not match"),
        (None, (("tenant_id", b"../etc"),), "does not match"),
        (b"\xff\xfe", (), "not UTF-8"),
    ],
)
def test_invalid_tenants(key: bytes | None, headers: tuple[tuple[str, bytes], ...], needle: str) -> None:
    with pytest.raises(InvalidRawRecord, match=needle):
        tenant_of(message(b"{}", key=key, headers=headers))


def event_of(encoded: EncodedEvent) -> CloudEvent[Any]:
    """The event the decoder encoded, read back as a consumer reads it."""
    return parse_event(encoded.value, upcast_to_latest=False)


def test_valid_record_becomes_an_event(decode: RawCallDecoder, make_call: MakeCall) -> None:
    encoded = decode(message(make_call()))
    assert (encoded.topic, encoded.key, encoded.type) == ("llmops.calls.recorded", b"acme", "llmops.call.recorded.v2")
    event = event_of(encoded)
    assert event.tenant_id == "acme"
    assert event.subject == "call-0001"
    assert event.source == "/services/ingest"
    # The same event id the HTTP path would give this call: one validation path, one id rule.
    again = event_of(decode(message(make_call(), offset=99)))
    assert event.id == again.id


def test_traceparent_header_becomes_the_event_traceid(decode: RawCallDecoder, make_call: MakeCall) -> None:
    headers = (("tenant_id", b"acme"), ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
    assert event_of(decode(message(make_call(), headers=headers))).trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event_of(decode(message(make_call()))).trace_id is None


def test_missing_call_id_is_derived_from_the_kafka_position(decode: RawCallDecoder, make_call: MakeCall) -> None:
    record = make_call(drop=("call_id",))
    first, redelivered = event_of(decode(message(record))), event_of(decode(message(record)))
    assert first.subject == redelivered.subject == raw_call_id(message(record))
    assert first.id == redelivered.id
    assert event_of(decode(message(record, offset=8))).subject != first.subject


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (b"not json", "malformed JSON"),
        (b'{"app": "\xff"}', "not valid UTF-8"),
        (b"[1, 2]", "model_type"),
        (b'{"latency_ms": NaN}', "NaN"),
    ],
)
def test_undecodable_records_are_permanent_errors(decode: RawCallDecoder, value: bytes, needle: str) -> None:
    with pytest.raises(PermanentError, match=needle):
        decode(message(value))


def test_validation_errors_are_json_in_the_exception(decode: RawCallDecoder, make_call: MakeCall) -> None:
    with pytest.raises(InvalidRawRecord) as caught:
        decode(message(make_call(started_at="2001-01-01T00:00:00Z", extra_field=1)))
    errors = json.loads(str(caught.value))
    assert {e["type"] for e in errors} == {"extra_forbidden"}
    with pytest.raises(InvalidRawRecord) as caught:
        decode(message(make_call(started_at="2001-01-01T00:00:00Z")))
    assert json.loads(str(caught.value))[0]["type"] == "timestamp_too_old"


def test_bad_tenant_wins_over_a_good_record(decode: RawCallDecoder, make_call: MakeCall) -> None:
    with pytest.raises(InvalidRawRecord, match="no tenant"):
        decode(message(make_call(), headers=()))


async def test_handler_publishes_the_batch(decode: RawCallDecoder, make_call: MakeCall) -> None:
    publisher = InMemoryPublisher()
    msgs = [message(make_call(call_id=f"c-{i}"), offset=i) for i in range(3)]
    await make_raw_handler(publisher)([Delivery(m, decode(m)) for m in msgs])
    assert [e.subject for e in publisher.events] == ["c-0", "c-1", "c-2"]
    assert publisher.topics == ["llmops.calls.recorded"] * 3


async def test_kafka_failure_is_transient(decode: RawCallDecoder, make_call: MakeCall) -> None:
    publisher = InMemoryPublisher()
    publisher.failure = KafkaTimeoutError()
    msg = message(make_call())
    with pytest.raises(TransientError):
        await make_raw_handler(publisher)([Delivery(msg, decode(msg))])
