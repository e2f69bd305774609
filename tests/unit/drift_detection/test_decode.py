"""Records of the calls topic: call events decode, anything else is poison for the DLQ (with its cause)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llmops_drift_detection.decode import decode_call, read_call
from llmops_drift_detection.features import features, prompt_text, scope_of
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import event_decoder
from llmops_schemas.v1 import FeedbackReceived
from llmops_schemas.v1 import calls as v1_calls
from llmops_schemas.v1.examples import ENVELOPE_EXAMPLE, EXAMPLES, example_data
from llmops_schemas.v2 import CallRecorded

from tests.unit.evaluation.calls import call
from tests.unit.schemas.fastcodec_diff import mutations
from tests.unit.schemas.test_call_v2 import INVALID as CALL_INVALID
from tests.unit.schemas.test_schema_registry import BROKEN

_STRUCT = event_decoder(CallRecorded)


def _message(value: bytes) -> ConsumedMessage:
    return ConsumedMessage("llmops.calls.recorded", 0, 7, b"acme", value, (), 0)


def test_a_call_event_decodes() -> None:
    event = call(call_id="c-1")

    assert decode_call(_message(event.to_json_bytes())).data.call_id == "c-1"


@pytest.mark.parametrize(
    ("value", "cause"),
    [(b"not json", "not valid JSON"), (b'{"specversion": "1.0"}', "lacks required attributes: id, source")],
    ids=["garbage", "no-envelope"],
)
def test_anything_else_is_poison(value: bytes, cause: str) -> None:
    with pytest.raises(PermanentError, match=cause):
        decode_call(_message(value))


def test_another_event_type_is_poison() -> None:
    other = CloudEvent.wrap(FeedbackReceived.model_validate(EXAMPLES[FeedbackReceived]), source="/t", tenant_id="acme")

    with pytest.raises(PermanentError):
        decode_call(_message(other.to_json_bytes()))


# --- the derived-struct accept path: the same rows, outcomes and dead letters as pydantic ----------------------


def _fold_view(read: Callable[[ConsumedMessage], Any], value: bytes) -> tuple[Any, ...]:
    """What the fold takes from a record: its dead letter's cause, or the call's row, scope, window time."""
    try:
        event = read(_message(value))
    except PermanentError as exc:
        return ("dead", str(exc))
    data = event.data
    return (
        "call", event.tenant_id, data.origin, data.call_id, data.started_at.timestamp(),
        scope_of(event.tenant_id, data), features(data), prompt_text(data),
    )  # fmt: skip


def _wire(data: dict[str, Any], **envelope: Any) -> bytes:
    return json.dumps({**ENVELOPE_EXAMPLE, "data": data, **envelope}).encode()


def _corpus() -> Iterator[bytes]:
    example = example_data(CallRecorded)
    yield _wire(example)
    variants: tuple[dict[str, Any], ...] = (
        {"choices": []}, {"choices": [{"refusal": "I cannot help with that."}]},
        {"choices": [{"output": "-", "finish_reason": "content_filter"}, {"output": "other"}]},
        {"status": "error", "error": {"type": "timeout", "message": "upstream timed out"}, "choices": []},
        {"metadata": {"language": "de"}}, {"prompt": {"name": "support-answer", "version": 3}}, {"usage": None},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]},
        {"origin": "platform"}, {"started_at": "2025-03-14T09:26:54.1234567Z"}, {"latency_ms": -1},
    )  # fmt: skip
    for changes in variants:
        yield _wire({**example, **changes})
    yield _wire(
        example_data(v1_calls.CallRecorded),
        type=v1_calls.CallRecorded.event_type,
        dataschema=v1_calls.CallRecorded.dataschema(),
    )  # fmt: skip  (pydantic upcasts it)
    yield _wire(example, type="llmops.feedback.received.v1")
    yield _wire(example, tenantid="")
    yield b"\xff\xfe not utf-8"
    yield _wire({**example, "call_id": "\ud800"}).replace(b"\\ud800", b"\\udc00\\ud800")
    for _, changes, _ in CALL_INVALID:
        yield _wire(changes)
    for raw, _ in BROKEN:
        yield raw
    yield from mutations(ENVELOPE_EXAMPLE, 1500, seed=11)


def test_the_derived_reader_gives_the_fold_what_pydantic_gives_it() -> None:
    by_struct = 0
    for value in _corpus():
        assert _fold_view(read_call, value) == _fold_view(decode_call, value), value
        by_struct += _STRUCT.decode(value) is not None
    assert by_struct > 100  # both paths ran: the struct accepted many records, pydantic decided the rest
