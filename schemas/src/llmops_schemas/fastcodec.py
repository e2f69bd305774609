"""A lighter decoder derived from the pydantic payload models: msgspec structs for the hot paths (ADR 0014).

:func:`struct_type` compiles a model, once, into a :class:`msgspec.Struct` type with the same field names, wire
names, types, constraints, defaults and ``mode="after"`` model validators (run from ``__post_init__``). It is an
ACCEPT path only: whatever the derived decoder refuses goes to pydantic, which accepts it (lax input such as
``"3"`` for an int) or rejects it with its own message. So the derivation may be stricter than pydantic, never
laxer, and what it accepts equals what pydantic produces (tests/unit/schemas/test_fastcodec.py holds it to that).
Anything it cannot express exactly raises :class:`Unsupported` (:mod:`llmops_schemas.derivation` compiles the
structs), and that model has no derived decoder.

Two variants: tolerant (unknown fields ignored at every depth, as consumers read) and strict (unknown fields
rejected, as producers validate). The producer's structs (:func:`producer_struct`, :func:`producer_event_struct`)
are strict and encode as ``to_json_bytes`` does: msgspec writes the same JSON value as pydantic's
``model_dump_json(by_alias=True, exclude_none=True)`` (floats may be spelt differently: ``1e16`` for ``1e+16``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec
from pydantic import BaseModel

from llmops_schemas.derivation import Unsupported, derive
from llmops_schemas.envelope import CloudEvent, EventPayload, envelope_class

__all__ = [
    "FastDecoder",
    "Unsupported",
    "convert",
    "event_decoder",
    "event_struct",
    "payload_decoder",
    "producer_event_struct",
    "producer_struct",
    "reads_exactly",
    "struct_type",
    "to_struct",
]

_SUB_MICROSECOND = re.compile(rb":[0-9]{2}[.,][0-9]{7}")
"""A time with more than 6 fractional digits: msgspec rounds them, pydantic truncates, so such input is refused
(pydantic decides). One pattern with a literal first byte: an alternation would scan ten times slower."""
_ESCAPED_TIME_CHARACTER = re.compile(rb"\\u00(?:3[0-9]|2[cCeE]|3[aA])")
"""An escaped digit, ``:``, ``.`` or ``,``, which could hide such a time from :data:`_SUB_MICROSECOND`."""
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]"
)
"""An escaped UTF-16 surrogate that is not half of a pair: pydantic refuses it in a string, msgspec's ``convert``
keeps it (a pair, such as an escaped emoji, both read as the same character)."""
_ENVELOPE_REQUIRED = frozenset({"specversion", "id"})
"""What an event read from Kafka must carry although the envelope model defaults it (as ``parse_event`` does)."""


def struct_type(model: type[BaseModel], *, strict: bool = False) -> type[msgspec.Struct]:
    """The struct type derived from ``model`` (cached); raises :class:`Unsupported`."""
    return derive(model, strict=strict)


@functools.cache
def event_struct(payload: type[EventPayload], *, strict: bool = False) -> type[msgspec.Struct]:
    """The struct of ``CloudEvent[payload]`` as read from Kafka: ``specversion`` and ``id`` are required."""
    return derive(envelope_class(payload), strict=strict, required=_ENVELOPE_REQUIRED)


@functools.cache
def producer_struct(payload: type[EventPayload]) -> type[msgspec.Struct]:
    """The strict struct of ``payload`` that encodes as pydantic's ``exclude_none`` dump does."""
    return derive(payload, strict=True, omit_none=True)


@functools.cache
def producer_event_struct(payload: type[EventPayload]) -> type[msgspec.Struct]:
    """:func:`producer_struct`'s envelope, ``CloudEvent[payload]`` as a producer writes it (with its
    ``specversion`` and ``id``, which readers require)."""
    return derive(envelope_class(payload), strict=True, required=_ENVELOPE_REQUIRED, omit_none=True)


def reads_exactly(raw: bytes) -> bool:
    """Whether msgspec reads the strings of the JSON ``raw`` as pydantic does. Not when ``raw`` holds a time with
    more than 6 fractional digits (msgspec rounds them, pydantic truncates), an escape that could hide one, or an
    escaped lone surrogate (pydantic refuses it): the derived structs must not judge such input."""
    if _SUB_MICROSECOND.search(raw):
        return False
    # One byte is found with memchr, two bytes by a scan ten times slower: most records hold no escape at all.
    if b"\\" not in raw:
        return True
    return b"\\u" not in raw or not (_ESCAPED_TIME_CHARACTER.search(raw) or _LONE_SURROGATE.search(raw))


def convert(value: Any, struct: type[msgspec.Struct]) -> Any:
    """``value`` (decoded JSON: dicts, lists, strings, numbers) as ``struct``, or None when the derived struct
    refuses it (pydantic decides then). Only for values decoded from bytes that :func:`reads_exactly` passed."""
    try:
        return msgspec.convert(value, struct)
    except msgspec.ValidationError:
        return None


class FastDecoder:
    """Decodes JSON into a derived struct, or refuses (None): the caller then asks pydantic."""

    def __init__(self, struct: type[msgspec.Struct]) -> None:
        self._decoder = msgspec.json.Decoder(struct)

    def decode(self, raw: bytes) -> Any:
        """The struct of ``raw``, or None when the derived decoder refuses it (pydantic decides then)."""
        if not reads_exactly(raw):
            return None
        try:
            return self._decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises the last on
            return None  # bytes that are not UTF-8 inside a string


@functools.cache
def payload_decoder(model: type[BaseModel], *, strict: bool = False) -> FastDecoder:
    """A :class:`FastDecoder` of :func:`struct_type` (cached)."""
    return FastDecoder(struct_type(model, strict=strict))


@functools.cache
def event_decoder(payload: type[EventPayload], *, strict: bool = False) -> FastDecoder:
    """A :class:`FastDecoder` of :func:`event_struct` (cached). It checks the payload, not that ``type`` names it."""
    return FastDecoder(event_struct(payload, strict=strict))


def to_struct(value: BaseModel) -> msgspec.Struct:
    """The tolerant struct equal to a pydantic model instance (an event's ``data`` included)."""
    if isinstance(value, CloudEvent):
        payload: EventPayload = value.data
        cls = event_struct(type(payload))
        attributes = value.model_dump(by_alias=True, exclude={"data"})
        return msgspec.convert({**attributes, "data": payload.model_dump(by_alias=True)}, cls)
    return msgspec.convert(value.model_dump(by_alias=True), struct_type(type(value)))
