"""The columns of ``evaluation_scores``: the envelope, the payload, and the items of a pass as parallel arrays.

Migration 0012 gave the table one array per item field (``score_metrics``, ``score_values``, ...: element ``i`` of
each is the pass's ``scores[i]``), so scores are read per call, per app and metric over time, or per run or replay
without parsing payloads (docs/adr/0032). :func:`pass_values` builds them from the stored events, whose payload is
the derived struct the consumer decodes (:mod:`llmops_warehouse.pass_events`) or a pydantic ``EvaluationScored``
(the same attributes). Absent optional values are '' (strings), 0 (the judge prompt's version) or None (numbers,
``passed``), as the migration's DEFAULT expressions derive them from the payload of older rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmops_warehouse.adapters.clickhouse_sql import EVENT_INSERT_COLUMNS
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.models import epoch_ms

__all__ = ["PASS_INSERT_COLUMNS", "SCORES_TABLE", "pass_values"]

SCORES_TABLE = "evaluation_scores"
"""The event table of ``llmops.evaluation.scored.v2`` (:data:`llmops_warehouse.tables.TABLES`)."""

PASS_COLUMNS = (
    "app", "call_id", "run_id", "replay_id", "example_id", "compared_call_id", "judged_at",
    "score_ids", "score_evaluators", "score_evaluator_versions", "score_kinds", "score_judge_models",
    "score_judge_prompts", "score_judge_prompt_versions", "score_metrics", "score_outcomes", "score_values",
    "score_mins", "score_maxes", "score_labels", "score_passed", "score_latencies_ms", "score_costs_usd",
)  # fmt: skip
"""The columns of a pass after the envelope's, in :func:`_row` order."""

PASS_INSERT_COLUMNS: tuple[str, ...] = (*EVENT_INSERT_COLUMNS, *PASS_COLUMNS)


def _row(event: StoredEvent) -> tuple[Any, ...]:
    """One pass's insert values. Never a delete marker: the passes' topic is not compacted."""
    d = event.payload
    items = d.scores
    return (
        event.event_id, event.tenant_id, event.event_type, event.time_ms, event.source, event.key_id, event.subject,
        event.trace_id, event.record_key, False, event.payload_json(),
        d.app or "", d.call_id, d.run_id or "", d.replay_id or "", d.example_id or "", d.compared_call_id or "",
        epoch_ms(d.judged_at),
        # One tuple per item, transposed into the sixteen arrays: a third cheaper than sixteen comprehensions.
        *(map(list, zip(*map(_item, items), strict=True)) if items else ([] for _ in range(_ITEM_COLUMNS))),
    )  # fmt: skip


_ITEM_COLUMNS = len(PASS_COLUMNS) - PASS_COLUMNS.index("score_ids")
"""The ``score_*`` arrays, the last of :data:`PASS_COLUMNS`."""


def _item(item: Any) -> tuple[Any, ...]:
    """One item's element of each ``score_*`` array, in :data:`PASS_COLUMNS` order."""
    ref = item.evaluator
    return (
        item.score_id, ref.name, ref.version, ref.kind, ref.judge_model or "", ref.judge_prompt or "",
        ref.judge_prompt_version or 0, item.metric, item.outcome, item.score, item.score_min, item.score_max,
        item.label or "", item.passed, item.latency_ms, item.cost_usd,
    )  # fmt: skip


def pass_values(events: Sequence[StoredEvent]) -> list[list[Any]]:
    """The :data:`PASS_INSERT_COLUMNS` of ``events``, column by column (a column-oriented insert)."""
    if not events:
        return [[] for _ in PASS_INSERT_COLUMNS]
    return [list(column) for column in zip(*map(_row, events), strict=True)]
