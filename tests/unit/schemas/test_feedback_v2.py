"""``llmops.feedback.received.v2``: the kind ``label`` and ``session_id``; v1 feedback is read as v2."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import FeedbackReceived as FeedbackV1
from llmops_schemas.v2 import FeedbackReceived
from pydantic import ValidationError

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_v1_event_is_read_as_v2_with_the_same_envelope() -> None:
    v1 = FeedbackV1(feedback_id="f-1", call_id="c-1", kind="rating", value=4, comment="ok", given_at=AT)
    event = CloudEvent.wrap(v1, source="tests", tenant_id="acme", key_id="k-1")
    read = parse_event(event.to_json_bytes())
    assert read.type == "llmops.feedback.received.v2"
    assert (read.id, read.tenant_id, read.key_id, read.time) == (event.id, "acme", "k-1", event.time)
    assert read.data == FeedbackReceived(
        feedback_id="f-1", call_id="c-1", kind="rating", value=4, comment="ok", given_at=AT
    )


def test_a_label_names_one_category() -> None:
    label = FeedbackReceived(feedback_id="f", call_id="c", kind="label", label="off-topic", given_at=AT)
    assert label.label == "off-topic"
    with pytest.raises(ValidationError, match="label feedback needs 'label'"):
        FeedbackReceived(feedback_id="f", call_id="c", kind="label", given_at=AT)
    with pytest.raises(ValidationError, match="pattern"):
        FeedbackReceived(feedback_id="f", call_id="c", kind="label", label="two words", given_at=AT)
    with pytest.raises(ValidationError, match="carries no value"):
        FeedbackReceived(feedback_id="f", call_id="c", kind="label", label="x", value=1, given_at=AT)
