"""Strict decoding of what arrives on the wire (an HTTP body, a raw Kafka record) into JSON values.

Both entrypoints decode through here so that "what counts as JSON" is one rule: UTF-8 only (no BOM,
no UTF-16 guessing), no ``NaN``/``Infinity`` (not JSON, and they would not survive the round trip to
ClickHouse), and bounded nesting. Errors say where the problem is so a client can find it.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

__all__ = ["BodyShapeError", "WireError", "decode_json", "extract_calls", "read_json"]


class WireError(ValueError):
    """The bytes are not acceptable JSON; ``position`` locates the problem when known."""

    def __init__(self, message: str, *, position: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.position = position or {}


class BodyShapeError(ValueError):
    """The JSON is well-formed but is not ``{"calls": [...]}``; ``errors`` are in the per-record format."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors))
        self.errors = errors


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (use null or a finite number)")


_FAST = msgspec.json.Decoder()
_FAST_REFUSES = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


def decode_json(data: bytes) -> Any:
    """Parse ``data`` as strict UTF-8 JSON, or raise :class:`WireError`.

    msgspec reads it first, at half the cost: where it accepts, ``json`` accepts the same value (integers of any
    length, floats rounded alike, the last of duplicate keys; tests/unit/ingest/test_ingest_wire.py holds it).
    What msgspec refuses, :func:`read_json` judges, whose verdict and messages are the answer: malformed input,
    and what only ``json`` reads (an escaped lone surrogate, a number beyond a float's range, an integer of
    thousands of digits). The one thing only msgspec reads is nesting 995 to 998 levels deep, which ``json``
    refuses by its recursion limit: such a record is refused by the schema instead (64 levels at most).
    """
    try:
        return _FAST.decode(data)
    except _FAST_REFUSES:
        return read_json(data)


def read_json(data: bytes) -> Any:
    """:func:`decode_json` by the standard library alone: the reader that explains a refusal."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(
            f"the body is not valid UTF-8: {exc.reason} at byte {exc.start}", position={"byte": exc.start}
        ) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise WireError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (character {exc.pos})",
            position={"line": exc.lineno, "column": exc.colno, "char": exc.pos},
        ) from None
    except RecursionError:
        raise WireError("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with more digits than Python converts
        raise WireError(f"malformed JSON: {exc}") from None


def _shape_error(loc: list[str | int], msg: str, type_: str) -> BodyShapeError:
    return BodyShapeError([{"loc": loc, "msg": msg, "type": type_}])


def extract_calls(document: Any) -> list[Any]:
    """The ``calls`` array of a batch body; anything else at the top level is an error.

    Only the object form is accepted (not a bare array) so the body can grow fields later without a
    breaking change; unknown top-level keys are refused for the same strictness as the records.
    """
    if not isinstance(document, dict):
        raise _shape_error([], 'the body must be a JSON object {"calls": [...]}', "model_type")
    unknown = sorted(k for k in document if k != "calls")
    if unknown:
        extra = "Extra inputs are not permitted"
        raise BodyShapeError([{"loc": [k], "msg": extra, "type": "extra_forbidden"} for k in unknown])
    if "calls" not in document:
        raise _shape_error(["calls"], "Field required", "missing")
    calls = document["calls"]
    if not isinstance(calls, list):
        raise _shape_error(["calls"], "Input should be a valid list", "list_type")
    if not calls:
        raise _shape_error(["calls"], "the batch must hold at least one record", "too_short")
    return calls
