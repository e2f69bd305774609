"""Records of ``llmops.calls.recorded`` as call events; anything else is poison (dead-lettered with its cause)."""

from __future__ import annotations

from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_schemas import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import CallRecorded

__all__ = ["decode_call"]


def decode_call(message: ConsumedMessage) -> CloudEvent[CallRecorded]:
    """The call event of ``message`` (v1 calls upcast); :class:`PermanentError` for anything else."""
    try:
        event = parse_event(message.value, expect=CallRecorded)
    except EventValidationError as exc:
        raise PermanentError(str(exc)) from exc
    if not isinstance(event.data, CallRecorded):
        raise PermanentError(f"{event.type} is not a call event")
    return event
