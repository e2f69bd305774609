"""Upcasting: how a consumer reads an event of an old version as the newest version of the same fact.

A breaking change ships a new payload version (``...v2``) and an upcaster from the old type, registered
with :func:`register_upcaster`; :func:`~llmops_schemas.registry.parse_event` applies the chain, so consumers
only ever see the newest version (see docs/events.md, "Versioning"); the platform's upcasters are in
:mod:`llmops_schemas.upcasters`.
"""

from __future__ import annotations

from collections.abc import Callable
from re import fullmatch
from typing import Any

from llmops_schemas.envelope import EVENT_TYPE_PATTERN, CloudEvent, EventPayload, envelope_class

__all__ = ["UPCASTERS", "Upcaster", "UpcasterRegistry", "register_upcaster", "upcast", "with_payload"]

Upcaster = Callable[[CloudEvent[Any]], CloudEvent[Any]]
"""Turns an event of one version into the next version of the same fact (see :func:`with_payload`)."""


def with_payload(event: CloudEvent[Any], payload: EventPayload) -> CloudEvent[Any]:
    """``event`` carrying ``payload`` instead: same id, source, time, subject, tenant, trace and key.

    The type and ``dataschema`` follow the new payload. This is how an upcaster builds its result.
    """
    return envelope_class(type(payload))(
        id=event.id,
        source=event.source,
        type=payload.event_type,
        time=event.time,
        subject=event.subject,
        dataschema=payload.dataschema(),
        tenant_id=event.tenant_id,
        trace_id=event.trace_id,
        key_id=event.key_id,
        data=payload,
    )


class UpcasterRegistry:
    """Upcasters by the event type they read; :meth:`upcast` applies them until none is left."""

    def __init__(self) -> None:
        self._upcasters: dict[str, Upcaster] = {}

    def register(self, from_type: str) -> Callable[[Upcaster], Upcaster]:
        """Decorator: the function upcasts events of ``from_type`` (one upcaster per type)."""
        if not fullmatch(EVENT_TYPE_PATTERN, from_type):
            raise ValueError(f"{from_type!r} is not an event type")

        def decorate(function: Upcaster) -> Upcaster:
            if from_type in self._upcasters:
                raise ValueError(f"an upcaster for {from_type} is already registered")
            self._upcasters[from_type] = function
            return function

        return decorate

    def types(self) -> list[str]:
        """The event types that have an upcaster."""
        return sorted(self._upcasters)

    def upcast(self, event: CloudEvent[Any]) -> CloudEvent[Any]:
        """``event`` brought to the newest version by the chain of registered upcasters."""
        seen: set[str] = set()
        while event.type in self._upcasters:
            if event.type in seen:
                raise RuntimeError(f"upcasters loop through {event.type}")
            seen.add(event.type)
            upcasted = self._upcasters[event.type](event)
            if upcasted.type == event.type:
                raise RuntimeError(f"the upcaster of {event.type} returned the same type")
            event = upcasted
        return event


UPCASTERS = UpcasterRegistry()
"""The platform's upcasters, registered in :mod:`llmops_schemas.upcasters`, e.g.::

    @register_upcaster("llmops.call.recorded.v1")
    def _call_recorded_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
        return with_payload(event, v2_calls.CallRecorded.from_v1(event.data))
"""
register_upcaster = UPCASTERS.register
upcast = UPCASTERS.upcast
