"""The evaluation passes the warehouse stores, decoded as the derived struct (docs/adr/0032).

A ``llmops.evaluation.scored.v2`` record is decoded by the struct derived from ``CloudEvent[EvaluationScored]``
(:mod:`llmops_schemas.fastcodec`), as calls are (:mod:`llmops_warehouse.call_events`): pydantic's validation cost
more than the rest of storing a pass. What the derived decoder refuses goes to ``parse_event``, which accepts it
(lax input, a v1 score it upcasts) or rejects it with the message the DLQ carries, exactly as before. Either form
becomes a :class:`~llmops_warehouse.events.StoredEvent` whose ``payload`` has the same attributes, which is all
the column mapping (:mod:`llmops_warehouse.pass_columns`) and the payload's JSON need.
"""

from __future__ import annotations

from typing import Any

from llmops_schemas.fastcodec import event_decoder
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import EvaluationScored

__all__ = ["decode_pass"]

_DECODER = event_decoder(EvaluationScored)


def decode_pass(raw: bytes) -> Any:
    """The event of a record on the passes' topic: the derived struct of a v2 pass, else what ``parse_event`` makes
    of it (any type: the router checks that its table matches the topic). Raises ``EventValidationError``."""
    event = _DECODER.decode(raw)
    if event is not None and event.type == EvaluationScored.event_type:
        return event
    return parse_event(raw)
