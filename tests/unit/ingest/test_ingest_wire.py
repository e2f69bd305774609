"""Strict JSON decoding and the batch body shape, shared by both entrypoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmops_cli.demo import demo_calls
from llmops_ingest.wire import BodyShapeError, WireError, decode_json, extract_calls, read_json

from tests.unit.schemas.fastcodec_diff import mutations


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


def _verdict(read: Any, data: bytes) -> tuple[str, Any]:
    """What ``read`` makes of ``data``: the value (with each item's type, 1 and 1.0 being equal), or the refusal."""
    try:
        value = read(data)
    except WireError as exc:
        return "refused", (str(exc), exc.position)
    return "read", (value, json.dumps(value, sort_keys=True), _types(value))


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


EDGES = [
    b"01", b"[1.]", b"[.5]", b"[+1]", b"[-]", b"[1,]", b'{"a":1,}', b"[1] x", b"", b" ", b"\xef\xbb\xbf[1]",
    b'["\x7f"]', b'["a\tb"]', b'["\xff"]', b'["\xed\xa0\x80"]', b'["\xc0\x80"]', b'["\xf4\x90\x80\x80"]',
    b'["\\ud800"]', b'["\\udc00x"]', b'["\\ud83d\\ude00"]', b'["\\x41"]', b'["\\u0041\\/"]',
    b"[1e400]", b"[-1e400]", b"[1e-400]", b"[-0.0]", b"[-0]", b"[1E5, 1e+5, 1.0, 1]", b"[1.0000000000000000001]",
    b"[" + b"9" * 20 + b"]", b"[-" + b"9" * 1000 + b"]", b"[" + b"9" * 4300 + b"]", b"[" + b"9" * 4301 + b"]",
    b"[NaN]", b"[Infinity]", b"[-Infinity]", b"[nan]", b"[true, false, null]", b"[True]",
    b'{"a": 1, "a": 2}', b'{"a": {"b": 1}, "a": [2]}', b'{"\\u0061": 1, "a": 2}',
    b"[" * 400 + b"]" * 400, b"[" * 2000 + b"]" * 2000,
]  # fmt: skip


@pytest.mark.parametrize("data", EDGES)
def test_the_fast_reader_reads_as_json_does(data: bytes) -> None:
    """decode_json reads with msgspec first: every verdict, value and message is the standard library's."""
    assert _verdict(decode_json, data) == _verdict(read_json, data)


def test_mutated_bodies_are_read_as_json_reads_them() -> None:
    body = {"calls": list(demo_calls(3, seed=1, prefix="wire"))}
    for data in mutations(body, 1500, seed=17):
        assert _verdict(decode_json, data) == _verdict(read_json, data), data[:300]
        for cut in (len(data) // 3, len(data) - 1):  # malformed: cut short
            assert _verdict(decode_json, data[:cut]) == _verdict(read_json, data[:cut])


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
