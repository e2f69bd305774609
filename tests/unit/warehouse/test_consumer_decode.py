"""The warehouse consumer's decoder: what it turns into events, and what it refuses (to be dead-lettered).

The consumer loop dead-letters any record whose decoding raises; these tests pin that everything which is
not a storable ``call.recorded`` event raises, with a reason worth reading in the DLQ headers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import EventValidationError
from llmops_schemas.v1 import calls as v1
from llmops_schemas.v1.examples import example
from llmops_schemas.v1.feedback import FeedbackReceived
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.entrypoints.consumer import decode_call_recorded

from tests.unit.warehouse.call_store_contract import make_event

TOPIC = CallRecorded.topic


def message(value: bytes, topic: str = TOPIC) -> ConsumedMessage:
    return ConsumedMessage(topic=topic, partition=0, offset=7, key=b"acme", value=value, headers=(), timestamp_ms=0)


def document(event: CloudEvent[Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(event.to_json_bytes())
    return loaded


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_a_valid_event_decodes() -> None:
    event = make_event("acme", trace_id="4bf92f3577b34da6a3ce929d0e0e4736", tags=["a"])
    decoded = decode_call_recorded(message(event.to_json_bytes()))
    assert isinstance(decoded.data, CallRecorded)
    assert decoded == event


def test_a_v1_event_is_upcast_to_v2() -> None:
    """Calls recorded before v2 (still on the topic, or replayed) are stored like v2 calls."""
    old = CloudEvent.wrap(example(v1.CallRecorded), source="/services/ingest", tenant_id="acme")
    decoded = decode_call_recorded(message(old.to_json_bytes()))
    assert (decoded.id, decoded.type) == (old.id, CallRecorded.event_type)
    assert decoded.data == CallRecorded.from_v1(old.data)


def test_an_upper_case_uuid_id_is_accepted() -> None:
    # The store writes the canonical spelling; the decoder only checks that it is a UUID.
    doc = document(make_event("acme"))
    doc["id"] = doc["id"].upper()
    assert decode_call_recorded(message(encode(doc))).id == doc["id"]


def test_unknown_fields_are_tolerated_at_any_depth() -> None:
    # A newer producer may add optional fields (to the payload, nested objects, or the envelope).
    doc = document(make_event("acme"))
    doc["newextension"] = "x"
    doc["data"]["cache_hit"] = True
    doc["data"]["usage"]["audio_tokens"] = 3
    doc["data"]["messages"][0]["images"] = []
    decoded = decode_call_recorded(message(encode(doc)))
    assert decoded.data.usage is not None
    assert decoded.data.usage.total_tokens == 15


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "not valid JSON"),
        (b"\x00\x01garbage", "not valid JSON"),
        (b"\xff\xfe\xfd", "not valid UTF-8"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'{"specversion": "1.0"}', "lacks required attributes"),
    ],
)
def test_bytes_that_are_no_event_are_refused(value: bytes, reason: str) -> None:
    with pytest.raises(EventValidationError, match=reason):
        decode_call_recorded(message(value))


def test_another_event_type_is_refused() -> None:
    feedback = FeedbackReceived(
        feedback_id="f-1", call_id="c-1", kind="thumbs", value=1, given_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    event = CloudEvent.wrap(feedback, source="tests", tenant_id="acme")
    with pytest.raises(PermanentError, match=r"expected llmops\.call\.recorded\.v2 .* got llmops\.feedback"):
        decode_call_recorded(message(event.to_json_bytes()))


def test_an_unknown_event_type_is_refused() -> None:
    doc = document(make_event("acme"))
    doc["type"] = "llmops.call.recorded.v9"
    with pytest.raises(EventValidationError, match="unknown event type"):
        decode_call_recorded(message(encode(doc)))


@pytest.mark.parametrize("event_id", ["not-a-uuid", "call-0001", "12345"])
def test_an_id_that_is_no_uuid_is_refused(event_id: str) -> None:
    # Rows are keyed by a UUID: refusing here dead-letters one record instead of failing a whole batch.
    event = make_event("acme", event_id=event_id)
    with pytest.raises(PermanentError, match="is not a UUID"):
        decode_call_recorded(message(event.to_json_bytes()))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["data"].pop("model"), "data.model"),
        (lambda d: d["data"].update(latency_ms="slow"), "data.latency_ms"),
        (lambda d: d["data"].update(status="error"), "data"),  # an error call needs `error`
        (lambda d: d["data"]["usage"].update(total_tokens=1), "data.usage"),
        (lambda d: d.update(data="not an object"), "data"),
        (lambda d: d.update(tenantid="Not A Tenant"), "tenantid"),
        (lambda d: d.update(time="yesterday"), "time"),
    ],
)
def test_a_wrong_payload_or_envelope_is_refused(change: Any, where: str) -> None:
    doc = document(make_event("acme"))
    change(doc)
    with pytest.raises(EventValidationError) as info:
        decode_call_recorded(message(encode(doc)))
    assert where in str(info.value)
