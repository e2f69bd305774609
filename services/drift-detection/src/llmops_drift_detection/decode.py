"""Records of ``llmops.calls.recorded`` as call events; anything else is poison (dead-lettered with its cause).

:func:`read_call` is the fold's reader: the struct derived from ``CloudEvent[CallRecorded]``
(:func:`llmops_schemas.fastcodec.event_decoder`, the full event with every constraint and validator, held by the
schema tests to accept nothing pydantic refuses) when it accepts the record and the event is a v2 call, else
:func:`decode_call` (pydantic), which upcasts v1 calls and words every refusal. So the dead letters and their
causes are pydantic's, and an accepted call costs a fifth of pydantic's decode (docs/adr/0057). Both forms
have the attributes the fold reads (``tenant_id``, ``data`` and the call's fields), as evaluation's reader.
"""

from __future__ import annotations

from typing import Any

from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_schemas import CloudEvent
from llmops_schemas.fastcodec import event_decoder
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import CallRecorded

__all__ = ["CallEvent", "decode_call", "read_call"]

_CALLS = event_decoder(CallRecorded)
CallEvent = Any
"""A call event as the fold reads it: pydantic's ``CloudEvent[CallRecorded]`` or the struct derived from it."""


def read_call(message: ConsumedMessage) -> CallEvent:
    """The call event of ``message``: the derived struct when it accepts it, else :func:`decode_call`'s."""
    event = _CALLS.decode(message.value)
    if event is not None and event.type == CallRecorded.event_type:
        return event
    return decode_call(message)


def decode_call(message: ConsumedMessage) -> CloudEvent[CallRecorded]:
    """The call event of ``message`` (v1 calls upcast); :class:`PermanentError` for anything else."""
    try:
        event = parse_event(message.value, expect=CallRecorded)
    except EventValidationError as exc:
        raise PermanentError(str(exc)) from exc
    if not isinstance(event.data, CallRecorded):
        raise PermanentError(f"{event.type} is not a call event")
    return event
