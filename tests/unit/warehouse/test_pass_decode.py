"""The passes' fast path against the pydantic path it replaced (docs/adr/0032).

Before, every record on ``llmops.evaluations.scored`` was parsed by ``parse_event`` and stored with pydantic's
``model_dump_json``. Now a v2 pass is decoded by the derived struct; what it refuses still goes to
``parse_event``. For the example pass and thousands of seeded variants of it, both paths must refuse the same
records with the same error, and store the same row (the document ``GET /v1/events/{table}`` returns, and every
column) for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import msgspec
import pytest
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v1.evaluation import EvaluationScored as EvaluationScoredV1
from llmops_schemas.v1.examples import example, example_data
from llmops_schemas.v2 import EvaluationScored
from llmops_warehouse.entrypoints import consumer
from llmops_warehouse.entrypoints.consumer import Router
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.pass_columns import PASS_INSERT_COLUMNS, pass_values
from llmops_warehouse.tables import TABLES

from tests.unit.schemas.fastcodec_diff import mutations
from tests.unit.warehouse.call_store_contract import make_event

ROUTER = Router(tables=TABLES, compacted=frozenset())
TOPIC = EvaluationScored.topic
NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


def message(value: bytes) -> ConsumedMessage:
    return ConsumedMessage(topic=TOPIC, partition=0, offset=3, key=b"acme", value=value, headers=(), timestamp_ms=0)


def before(raw: bytes) -> StoredEvent:
    """The pydantic path as the router took it before ADR 0032: ``parse_event`` for every record."""
    with mock.patch.object(consumer, "decode_pass", parse_event):
        return now(raw)


def now(raw: bytes) -> StoredEvent:
    decoded = ROUTER.decode(message(raw))
    assert isinstance(decoded, StoredEvent)
    return decoded


def outcome(decode: Callable[[bytes], StoredEvent], raw: bytes) -> tuple[str, Any]:
    try:
        stored = decode(raw)
    except (EventValidationError, PermanentError) as exc:
        return ("refused", (type(exc), str(exc)))
    row = stored.row(ingested_at=NOW).model_dump(mode="json")
    columns: list[Any] = pass_values([stored])
    if "time" not in json.loads(raw):  # both paths default it to the time of decoding
        row["time"] = columns[PASS_INSERT_COLUMNS.index("time")] = None
    return ("stored", (row, columns))


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    event = CloudEvent.wrap(example(EvaluationScored), source="/services/evaluation", tenant_id="acme")
    document: dict[str, Any] = json.loads(event.to_json_bytes())
    return {**document, "data": data}


def corpus() -> list[bytes]:
    pass_ = example_data(EvaluationScored)
    out = [json.dumps(envelope(pass_)).encode()]
    out += list(mutations(envelope(pass_), 2000, seed=32))
    out += list(mutations(envelope(pass_), 500, seed=33))
    return out


CORPUS = corpus()


def test_the_corpus_holds_passes_of_both_paths_and_refusals() -> None:
    fast = sum(1 for raw in CORPUS if isinstance(_decoded(raw), msgspec.Struct))
    outcomes = [outcome(before, raw)[0] for raw in CORPUS]
    assert fast > 300 and outcomes.count("refused") > 300
    assert outcomes.count("stored") - fast > 10  # lax input pydantic accepts and the struct refuses


def _decoded(raw: bytes) -> Any:
    try:
        return ROUTER.decode(message(raw)).payload  # type: ignore[union-attr]
    except (EventValidationError, PermanentError):
        return None


@pytest.mark.parametrize("start", range(0, len(CORPUS), 250))
def test_both_paths_refuse_the_same_records_and_store_the_same_rows(start: int) -> None:
    for raw in CORPUS[start : start + 250]:
        assert outcome(now, raw) == outcome(before, raw), raw[:300]


def test_a_pass_decodes_into_the_struct_with_its_envelope() -> None:
    event = CloudEvent.wrap(
        example(EvaluationScored), source="/services/evaluation", tenant_id="acme", key_id="k", trace_id="a" * 32
    )
    stored = ROUTER.decode(message(event.to_json_bytes()))
    assert isinstance(stored, StoredEvent) and isinstance(stored.payload, msgspec.Struct)
    assert stored == StoredEvent(
        table="evaluation_scores",
        event_id=stored.event_id,
        tenant_id="acme",
        event_type=EvaluationScored.event_type,
        time_ms=stored.time_ms,
        source="/services/evaluation",
        key_id="k",
        trace_id="a" * 32,
        record_key="acme",
        payload=stored.payload,
    )
    assert stored.payload_json() == event.data.model_dump_json()  # the stored document, byte for byte


def test_a_v1_score_is_upcast_by_pydantic_and_stored_as_a_pass() -> None:
    old = CloudEvent.wrap(example(EvaluationScoredV1), source="s", tenant_id="acme")
    stored = ROUTER.decode(message(old.to_json_bytes()))
    assert isinstance(stored, StoredEvent) and isinstance(stored.payload, EvaluationScored)
    assert stored.event_type == EvaluationScored.event_type
    assert outcome(now, old.to_json_bytes()) == outcome(before, old.to_json_bytes())


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        (b"", EventValidationError, "not valid JSON"),
        (b"\xff\xfe", EventValidationError, "not valid UTF-8"),
        (b"[1]", EventValidationError, "must be a JSON object"),
    ],
)
def test_bytes_that_are_no_event_are_refused(value: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        ROUTER.decode(message(value))


def test_a_call_on_the_passes_topic_is_refused() -> None:
    with pytest.raises(PermanentError, match=r"stores no llmops\.call\.recorded\.v2 from llmops\.evaluations\.scored"):
        ROUTER.decode(message(make_event("acme").to_json_bytes()))


def test_an_id_that_is_no_uuid_is_refused() -> None:
    document = envelope(example_data(EvaluationScored))
    document["id"] = "pass-1"
    with pytest.raises(PermanentError, match="is not a UUID"):
        ROUTER.decode(message(json.dumps(document).encode()))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["scores"][1].update(score=0.5), "a score is present exactly when outcome is 'scored'"),
        (lambda d: d["scores"][0].update(outcome="maybe"), "data.scores.0.outcome"),
        (lambda d: d.update(scores=[]), "data.scores"),
        (lambda d: d["scores"][0]["evaluator"].update(kind="heuristic"), "only for kind 'llm_judge'"),
        (lambda d: d.pop("judged_at"), "data.judged_at"),
    ],
)
def test_a_pass_the_schema_refuses_is_refused_with_pydantic_s_reason(change: Any, where: str) -> None:
    data = example_data(EvaluationScored)
    change(data)
    raw = json.dumps(envelope(data), default=str).encode()
    with pytest.raises(EventValidationError) as info:
        ROUTER.decode(message(raw))
    assert where in str(info.value)
