"""Records of the calls topic: call events decode, anything else is poison for the DLQ (with its cause)."""

from __future__ import annotations

import pytest
from llmops_drift_detection.decode import decode_call
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import FeedbackReceived
from llmops_schemas.v1.examples import EXAMPLES

from tests.unit.evaluation.calls import call


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
