"""Ingest's derived path (llmops_ingest.call_structs) decides as pydantic does and publishes what it published.

Every input runs through ``prepare_record`` as the entrypoints run it (the derived struct judges records whose
bytes let it, pydantic the rest) and with pydantic alone, and is compared with the former implementation
(pydantic's model enveloped by ``CloudEvent.wrap`` and written by ``to_json_bytes``): the verdicts, the error
lists and reasons, the ids and the published JSON values must agree. Inputs: the invalid-record corpus of the
handler tests, and seeded mutations (tests/unit/schemas/fastcodec_diff.py) of a v1 and a rich v2 record.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from llmops_ingest.handlers import Accepted, IngestContext, Rejected, prepare_batch, prepare_record, validate_call
from llmops_ingest.wire import WireError, decode_json
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import reads_exactly

from tests.unit.ingest.conftest import NOW
from tests.unit.ingest.test_ingest_handlers import INVALID_RECORDS, MakeCall, tool_call, user_parts
from tests.unit.schemas.fastcodec_diff import mutations

MUTATIONS = 1500


def _without_time(value: bytes) -> dict[str, Any]:
    event = json.loads(value)
    del event["time"]  # the time of enveloping, not of the record
    return dict(event)


def former_value(record: dict[str, Any], outcome: Accepted, context: IngestContext) -> dict[str, Any]:
    """What the former implementation published for ``record`` (its id filled in as ``prepare_record`` did)."""
    call = validate_call({**record, "call_id": outcome.call_id})
    event = CloudEvent.wrap(
        call,
        source=context.source,
        tenant_id=context.tenant_id,
        event_id=outcome.event_id,
        subject=call.call_id,
        trace_id=context.trace_id,
        key_id=context.key_id,
    )
    return _without_time(event.to_json_bytes())


def check(raw: bytes, context: IngestContext) -> bool:
    """Run ``raw`` (one record's JSON) both ways; True when it was accepted. Fails on any disagreement."""
    try:
        record = decode_json(raw)
    except WireError:
        return False  # the wire refuses it before any validation, whichever path follows
    entrypoint = prepare_record(record, 0, dataclasses.replace(context, derived=reads_exactly(raw)))
    pydantic = prepare_record(record, 0, dataclasses.replace(context, derived=False))
    if isinstance(pydantic, Rejected):
        assert isinstance(entrypoint, Rejected), f"only the derived path accepts {raw[:300]!r}"
        assert (entrypoint.errors, entrypoint.reason) == (pydantic.errors, pydantic.reason), raw[:300]
        return False
    assert isinstance(entrypoint, Accepted), f"only pydantic accepts {raw[:300]!r}: {entrypoint}"
    assert (entrypoint.call_id, entrypoint.event_id) == (pydantic.call_id, pydantic.event_id)
    assert (entrypoint.event.topic, entrypoint.event.key, entrypoint.event.type) == (
        "llmops.calls.recorded",
        context.tenant_id.encode(),
        "llmops.call.recorded.v2",
    )
    published = _without_time(entrypoint.value)
    assert published == _without_time(pydantic.value), raw[:300]
    assert published == former_value(record, entrypoint, context), raw[:300]
    return True


@pytest.fixture
def keyed(context: IngestContext) -> IngestContext:
    """A context with every optional envelope attribute set, so that each is compared too."""
    return dataclasses.replace(context, trace_id="4bf92f3577b34da6a3ce929d0e0e4736", key_id="writer-key")


def rich_v2(make_call: MakeCall) -> dict[str, Any]:
    return make_call(
        drop=("output",),
        messages=[
            {"role": "system", "content": "Be brief."},
            user_parts(
                {"type": "text", "text": "What is on the label?"}, {"type": "image", "url": "https://x.test/l.png"}
            ),
            {"role": "assistant", "tool_calls": [tool_call('{"order": "A-1"}')]},
            {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
        ],
        choices=[{"output": "It shipped.", "finish_reason": "stop"}, {"output": None, "refusal": "no"}],
        usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13, "cached_prompt_tokens": 8},
        request={"n": 2, "tools": [{"name": "lookup", "parameters": '{"type": "object"}'}]},
        parameters={"temperature": 0.2, "extra": {"k": [1, 2.5, None, {"x": 1e16}]}},
        metadata={"region": "eu"},
        tags=["a", "b"],
        time_to_first_token_ms=12.0,
        status="error",
        error={"type": "timeout", "message": "upstream timed out"},
        environment="staging",
        origin="application",
    )


@pytest.mark.parametrize(("overrides", "_loc", "_type"), INVALID_RECORDS, ids=[t for _, _, t in INVALID_RECORDS])
def test_the_invalid_record_corpus_is_judged_alike(
    make_call: MakeCall, keyed: IngestContext, overrides: dict[str, Any], _loc: Any, _type: str
) -> None:
    for ensure_ascii in (True, False):  # escaped or raw: the byte checks see both
        assert not check(
            json.dumps(make_call(**overrides), ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass"), keyed
        )


def test_the_rich_record_is_valid_and_published_alike(make_call: MakeCall, keyed: IngestContext) -> None:
    assert check(json.dumps(rich_v2(make_call)).encode(), keyed)


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_mutated_records_are_judged_and_published_alike(make_call: MakeCall, keyed: IngestContext, shape: str) -> None:
    record = make_call() if shape == "v1" else rich_v2(make_call)
    accepted = sum(check(raw, keyed) for raw in mutations(record, MUTATIONS, seed=11 if shape == "v1" else 13))
    assert 0 < accepted < MUTATIONS  # both verdicts occur


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_a_batch_publishes_what_its_records_one_by_one_publish(
    make_call: MakeCall, keyed: IngestContext, shape: str
) -> None:
    """A batch's events share one envelope, checked once (docs/adr/0060): the same verdicts and bytes as each
    record enveloped and checked alone."""
    record = make_call() if shape == "v1" else rich_v2(make_call)
    raws = list(mutations(record, 300, seed=17 if shape == "v1" else 19))
    context = dataclasses.replace(keyed, derived=all(reads_exactly(raw) for raw in raws))
    records = [decode_json(raw) for raw in raws]
    batch = prepare_batch(records, context)
    alone = [prepare_record(r, i, context) for i, r in enumerate(records)]
    singly = [a for a in alone if isinstance(a, Accepted)]
    assert 1 < len(batch.accepted) < len(records)
    assert [a.summary() for a in batch.accepted] == [a.summary() for a in singly]
    assert [a.event[:3] for a in batch.accepted] == [a.event[:3] for a in singly]
    assert [_without_time(a.value) for a in batch.accepted] == [_without_time(a.value) for a in singly]
    assert [r.summary() for r in batch.rejected] == [r.summary() for r in alone if isinstance(r, Rejected)]


def test_a_time_finer_than_a_microsecond_is_truncated_as_pydantic_does(
    make_call: MakeCall, context: IngestContext
) -> None:
    started = (NOW.replace(microsecond=0)).isoformat().replace("+00:00", ".1234569Z")
    raw = json.dumps(make_call(started_at=started)).encode()
    assert not reads_exactly(raw)  # msgspec would round it to .123457
    assert check(raw, context)
    [accepted] = [prepare_record(json.loads(raw), 0, dataclasses.replace(context, derived=False))]
    assert isinstance(accepted, Accepted)
    assert json.loads(accepted.value)["data"]["started_at"].endswith(".123456Z")


def test_a_record_only_pydantic_accepts_is_published_as_pydantic_made_it(
    make_call: MakeCall, context: IngestContext
) -> None:
    raw = json.dumps(
        make_call(latency_ms="812.5", usage={"prompt_tokens": "7", "completion_tokens": 5, "total_tokens": 12})
    ).encode()
    assert check(raw, context)
    outcome = prepare_record(json.loads(raw), 0, dataclasses.replace(context, derived=True))
    assert isinstance(outcome, Accepted)
    data = json.loads(outcome.value)["data"]
    assert (data["latency_ms"], data["usage"]["prompt_tokens"]) == (812.5, 7)
