"""The columns of ``evaluation_scores`` built from a pass: every outcome, every optional field, both payload forms.

A pass reaches the store as the derived struct (the consumer's fast path) or as a pydantic ``EvaluationScored``
(what the struct refused, an upcast v1 score, a caller of the store): both must give the same columns, and the
payload column must stay the document the generic read has always returned (``model_dump_json``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import to_struct
from llmops_schemas.v2 import EvaluationScored
from llmops_warehouse.adapters.clickhouse_sql import event_columns
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.models import epoch_ms
from llmops_warehouse.pass_columns import PASS_INSERT_COLUMNS, SCORES_TABLE, pass_values
from llmops_warehouse.tables import tables_by_name

JUDGED = datetime(2026, 3, 14, 9, 30, 0, 123456, tzinfo=UTC)
HEURISTIC = {"name": "answer-length", "version": "1", "kind": "heuristic"}
JUDGE = {
    "name": "faithfulness",
    "version": "2",
    "kind": "llm_judge",
    "judge_model": "demo-judge",
    "judge_prompt": "rubric",
    "judge_prompt_version": 3,
}
ITEMS: list[dict[str, Any]] = [
    {"score_id": "s-1", "evaluator": HEURISTIC, "metric": "length", "score": 1.0, "score_min": 0.0, "score_max": 1.0,
     "label": "pass", "passed": True, "explanation": "fits", "latency_ms": 0.25, "cost_usd": 0.0},
    {"score_id": "s-2", "evaluator": JUDGE, "metric": "faithfulness", "outcome": "malformed",
     "explanation": "no score in 'I cannot say'", "latency_ms": 41.5, "cost_usd": 0.00012},
    {"score_id": "s-3", "evaluator": {**JUDGE, "judge_prompt_version": None}, "metric": "relevance",
     "outcome": "error", "label": "upstream"},
    {"score_id": "s-4", "evaluator": {**JUDGE, "judge_prompt": None, "judge_prompt_version": None},
     "metric": "tone", "outcome": "timeout"},
    {"score_id": "s-5", "evaluator": {**HEURISTIC, "kind": "semantic"}, "metric": "similarity", "score": -0.5,
     "passed": False},
]  # fmt: skip


def event(**fields: Any) -> CloudEvent[EvaluationScored]:
    data = {"evaluation_id": "pass-1", "call_id": "call-1", "scores": ITEMS, "judged_at": JUDGED, **fields}
    return CloudEvent.wrap(EvaluationScored.model_validate(data), source="/services/evaluation", tenant_id="acme")


def struct_of(event: CloudEvent[EvaluationScored]) -> Any:
    """The derived struct the consumer decodes ``event``'s record into."""
    return to_struct(event)


def columns(stored: StoredEvent) -> dict[str, Any]:
    return {name: values[0] for name, values in zip(PASS_INSERT_COLUMNS, pass_values([stored]), strict=True)}


def test_every_item_field_lands_in_its_array_in_the_pass_s_order() -> None:
    published = event()
    got = columns(StoredEvent.of(SCORES_TABLE, struct_of(published), record_key="acme"))
    assert got == {
        "event_id": uuid.UUID(published.id),
        "tenant_id": "acme",
        "event_type": "llmops.evaluation.scored.v2",
        "time": epoch_ms(published.time),
        "source": "/services/evaluation",
        "key_id": "",
        "subject": "",
        "trace_id": "",
        "record_key": "acme",
        "deleted": False,
        "payload": published.data.model_dump_json(),
        "app": "",
        "call_id": "call-1",
        "run_id": "",
        "replay_id": "",
        "example_id": "",
        "compared_call_id": "",
        "judged_at": epoch_ms(JUDGED),
        "score_ids": ["s-1", "s-2", "s-3", "s-4", "s-5"],
        "score_evaluators": ["answer-length", "faithfulness", "faithfulness", "faithfulness", "answer-length"],
        "score_evaluator_versions": ["1", "2", "2", "2", "1"],
        "score_kinds": ["heuristic", "llm_judge", "llm_judge", "llm_judge", "semantic"],
        "score_judge_models": ["", "demo-judge", "demo-judge", "demo-judge", ""],
        "score_judge_prompts": ["", "rubric", "rubric", "", ""],
        "score_judge_prompt_versions": [0, 3, 0, 0, 0],
        "score_metrics": ["length", "faithfulness", "relevance", "tone", "similarity"],
        "score_outcomes": ["scored", "malformed", "error", "timeout", "scored"],
        "score_values": [1.0, None, None, None, -0.5],
        "score_mins": [0.0, None, None, None, None],
        "score_maxes": [1.0, None, None, None, None],
        "score_labels": ["pass", "", "upstream", "", ""],
        "score_passed": [True, None, None, None, False],
        "score_latencies_ms": [0.25, 41.5, None, None, None],
        "score_costs_usd": [0.0, 0.00012, None, None, None],
    }


def test_the_pass_s_optional_identifiers_and_envelope_extensions_are_written() -> None:
    published = event(app="support-bot", compared_call_id="call-2", run_id="run-1", example_id="ex-1", replay_id="rp")
    published = published.model_copy(update={"key_id": "key-1", "subject": "call-1", "trace_id": "a" * 32})
    got = columns(StoredEvent.of(SCORES_TABLE, struct_of(published)))
    assert {k: got[k] for k in ("app", "compared_call_id", "run_id", "example_id", "replay_id")} == {
        "app": "support-bot",
        "compared_call_id": "call-2",
        "run_id": "run-1",
        "example_id": "ex-1",
        "replay_id": "rp",
    }
    assert (got["key_id"], got["subject"], got["trace_id"]) == ("key-1", "call-1", "a" * 32)


def test_a_pydantic_pass_gives_the_columns_of_its_struct() -> None:
    for published in (event(), event(app="bot", run_id="r", example_id="e", replay_id="p", compared_call_id="c")):
        model = StoredEvent.of(SCORES_TABLE, published)
        struct = StoredEvent.of(SCORES_TABLE, struct_of(published))
        assert pass_values([model]) == pass_values([struct])
        assert model.row(JUDGED) == struct.row(JUDGED)


def test_the_insert_writes_every_filter_column_of_the_mapping() -> None:
    table = tables_by_name()[SCORES_TABLE]
    assert table.payload is EvaluationScored
    assert set(event_columns(table)) <= set(PASS_INSERT_COLUMNS)


def test_an_empty_batch_has_empty_columns() -> None:
    assert pass_values([]) == [[] for _ in PASS_INSERT_COLUMNS]
