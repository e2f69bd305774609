"""A body of valid v2 calls is read straight into the call structs (``decode_v2_body``, docs/adr/0063), and that
shortcut decides and publishes exactly what the general way (``parse_calls``, then record by record) does.

Every input is a one-record body made of the seeded mutations (tests/unit/schemas/fastcodec_diff.py) of a v1 and
a rich v2 record, or of the handler tests' invalid-record corpus; then whole batches. Where the shortcut takes a
body, its outcome (verdicts, ids, published JSON values) must equal the general way's; where it refuses (None),
the general way answers alone, so the shortcut can only ever accept what the general way accepts.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from llmops_ingest.call_structs import decode_v2_body
from llmops_ingest.entrypoints.http import _validate
from llmops_ingest.handlers import BatchOutcome, IngestContext, _v2_shaped, prepare_batch
from llmops_ingest.wire import WireError, decode_json, extract_calls
from llmops_schemas.fastcodec import reads_exactly

from tests.unit.ingest.test_ingest_handlers import INVALID_RECORDS, MakeCall
from tests.unit.ingest.test_ingest_structs import _without_time, rich_v2
from tests.unit.schemas.fastcodec_diff import mutations

MUTATIONS = 1500


@pytest.fixture
def keyed(context: IngestContext) -> IngestContext:
    return dataclasses.replace(context, trace_id="4bf92f3577b34da6a3ce929d0e0e4736", key_id="writer-key")


def _body(*records: bytes) -> bytes:
    return b'{"calls": [' + b", ".join(records) + b"]}"


def _summary(outcome: BatchOutcome) -> tuple[Any, ...]:
    return (
        [a.summary() for a in outcome.accepted],
        [a.event[:3] for a in outcome.accepted],
        [_without_time(a.value) for a in outcome.accepted],
        [r.summary() for r in outcome.rejected],
    )


def shortcut_agrees(body: bytes, context: IngestContext) -> bool:
    """True when the shortcut took ``body``; fails when its outcome differs from the general way's."""
    if not reads_exactly(body):
        return False  # the entrypoint does not try it then
    calls = decode_v2_body(body)
    if calls is None:
        return False
    try:
        records = extract_calls(decode_json(body))
    except WireError:
        pytest.fail(f"the shortcut read a body the wire refuses: {body[:300]!r}")
    derived = dataclasses.replace(context, derived=True)
    assert _summary(prepare_batch(calls, derived, validated=True)) == _summary(prepare_batch(records, derived))
    return True


def v2_of(record: dict[str, Any]) -> dict[str, Any]:
    """``make_call``'s v1 record in v2's shape (its answer the first choice)."""
    shaped = {k: v for k, v in record.items() if k not in ("output", "finish_reason")}
    return shaped | {"choices": [{"output": record["output"], "finish_reason": "stop"}]}


@pytest.mark.parametrize("shape", ["v1", "v2", "rich v2"])
def test_mutated_bodies_are_judged_alike(make_call: MakeCall, keyed: IngestContext, shape: str) -> None:
    record = {"v1": make_call, "v2": lambda: v2_of(make_call()), "rich v2": lambda: rich_v2(make_call)}[shape]()
    taken = sum(shortcut_agrees(_body(raw), keyed) for raw in mutations(record, MUTATIONS, seed=23))
    if shape == "v1":
        assert taken < MUTATIONS // 2  # only mutations that made it v2 (dropped both v1 fields) may take it
    else:
        assert MUTATIONS // 10 < taken < MUTATIONS  # it takes valid bodies and refuses the rest


@pytest.mark.parametrize(("overrides", "_loc", "_type"), INVALID_RECORDS, ids=[t for _, _, t in INVALID_RECORDS])
def test_no_invalid_record_takes_the_shortcut(
    make_call: MakeCall, keyed: IngestContext, overrides: dict[str, Any], _loc: Any, _type: str
) -> None:
    record = make_call(**overrides)
    for shaped in (record, _v2_shaped(record)):  # as sent, and in v2's shape (what the general way validates)
        for ensure_ascii in (True, False):
            raw = json.dumps(shaped, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
            assert not shortcut_agrees(_body(raw), keyed), raw[:300]


def test_a_batch_of_valid_v2_calls_takes_it_whole(make_call: MakeCall, keyed: IngestContext) -> None:
    raws = [json.dumps(rich_v2(make_call) | {"call_id": f"call-{i}"}).encode() for i in range(50)]
    assert shortcut_agrees(_body(*raws), keyed)
    outcome = _validate(_body(*raws), 50, keyed)
    assert [a.call_id for a in outcome.accepted] == [f"call-{i}" for i in range(50)]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda r: r | {"app": ""}, "one invalid record"),
        (lambda r: {k: v for k, v in r.items() if k != "call_id"}, "an id to derive from the content"),
        (lambda r: {k: v for k, v in r.items() if k != "choices"} | {"output": "v1's answer"}, "v1's shape"),
    ],
)
def test_a_batch_goes_the_general_way_for_any_record_that_needs_it(
    make_call: MakeCall, keyed: IngestContext, change: Any, why: str
) -> None:
    records = [v2_of(make_call()) | {"call_id": f"call-{i}"} for i in range(5)]
    records[3] = change(records[3])
    body = _body(*(json.dumps(r).encode() for r in records))
    assert decode_v2_body(body) is None, why
    general = prepare_batch(extract_calls(decode_json(body)), keyed)
    assert _summary(_validate(body, 5, keyed)) == _summary(general)


def test_the_batch_limit_still_answers_413(make_call: MakeCall, keyed: IngestContext) -> None:
    body = _body(*(json.dumps(v2_of(make_call()) | {"call_id": f"c-{i}"}).encode() for i in range(3)))
    assert decode_v2_body(body) is not None
    with pytest.raises(Exception, match="3 records; at most 2 per request"):
        _validate(body, 2, keyed)


@pytest.mark.parametrize(
    "body",
    [b'{"calls": []}', b'{"calls": [], "more": 1}', b"[]", b'{"calls": {}}', b'{"calls": [1]}', b"{", b"\xff"],
)
def test_bodies_that_are_no_batch_of_calls_are_refused(body: bytes) -> None:
    assert decode_v2_body(body) is None
