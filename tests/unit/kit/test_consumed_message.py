"""The consumer loop's copy of an aiokafka record (llmops_kit.kafka.messages)."""

from __future__ import annotations

import pytest
from aiokafka.structs import ConsumerRecord
from llmops_kit.kafka.messages import ConsumedMessage, to_message


def _record(value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("llmops.calls.recorded", 3, 41, 1_700_000_000_123, 0, b"acme", value, None, 4, 2,
                          (("ce_type", b"llmops.call.recorded.v2"),))  # fmt: skip


def test_every_field_is_copied() -> None:
    assert to_message(_record(b"{}")) == ConsumedMessage(
        topic="llmops.calls.recorded",
        partition=3,
        offset=41,
        key=b"acme",
        value=b"{}",
        headers=(("ce_type", b"llmops.call.recorded.v2"),),
        timestamp_ms=1_700_000_000_123,
    )


def test_a_missing_value_reads_as_empty_bytes() -> None:
    assert to_message(_record(None)).value == b""


def test_a_message_cannot_be_changed() -> None:
    message = to_message(_record(b"{}"))
    with pytest.raises(AttributeError):
        message.value = b"other"  # type: ignore[misc]
