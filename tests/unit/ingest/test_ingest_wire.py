"""Strict JSON decoding and the batch body shape, shared by both entrypoints."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_ingest.wire import BodyShapeError, WireError, decode_json, extract_calls


def test_decodes_utf8_json() -> None:
    assert decode_json('{"a": ["é", 1.5, null]}'.encode()) == {"a": ["é", 1.5, None]}


@pytest.mark.parametrize(
    ("data", "position"),
    [
        (b'{"a": 1,}', {"line": 1, "column": 9, "char": 8}),
        (b"\n\n  [", {"line": 3, "column": 4, "char": 5}),
        (b"caf\xc3", {"byte": 3}),
    ],
)
def test_errors_carry_a_position(data: bytes, position: dict[str, int]) -> None:
    with pytest.raises(WireError) as caught:
        decode_json(data)
    assert caught.value.position == position


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_constants_are_refused(constant: bytes) -> None:
    with pytest.raises(WireError, match="not valid JSON"):
        decode_json(b"[" + constant + b"]")


def test_extract_calls_returns_the_records() -> None:
    assert extract_calls({"calls": [1, {"a": 2}]}) == [1, {"a": 2}]


@pytest.mark.parametrize(
    ("document", "types"),
    [
        ([], ["model_type"]),
        ("calls", ["model_type"]),
        ({"records": [], "zzz": 1}, ["extra_forbidden", "extra_forbidden"]),
        ({"calls": None}, ["list_type"]),
        ({"calls": []}, ["too_short"]),
    ],
)
def test_extract_calls_refuses_other_shapes(document: Any, types: list[str]) -> None:
    with pytest.raises(BodyShapeError) as caught:
        extract_calls(document)
    assert [e["type"] for e in caught.value.errors] == types
