"""A closed window's calls joined with their evaluation scores and feedback, read from the warehouse (a fake of
the kit's HistoryReader here; the real reader on chDB: tests/integration/drift_detection/test_outcome_features.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from llmops_drift import Kind
from llmops_drift_detection.outcomes import Outcomes, outcome_kind
from llmops_kit.warehouse import HistoryRows

from tests.unit.drift_detection.outcomes_data import later, scored, thumbs
from tests.unit.feedback.history import InMemoryHistory

START = datetime(2026, 3, 14, 9, tzinfo=UTC)
END = datetime(2026, 3, 14, 10, tzinfo=UTC)
LAG_S = 60.0


def _calls(*ids: str) -> dict[str, dict[str, Any]]:
    return {call: {"latency_ms": 200.0} for call in ids}


def _outcomes(history: Any, max_rows: int = 100, timeout_s: float = 5.0) -> Outcomes:
    return Outcomes(history, lag_s=LAG_S, max_rows=max_rows, timeout_s=timeout_s)


async def test_scores_and_feedback_become_features_of_their_calls() -> None:
    history = InMemoryHistory()
    at = later(START, 10)  # a score's event time is its call's start
    for data in (
        scored("c-1", 0.8, later(at, 5)),
        scored("c-2", 0.2, later(at, 5)),
        scored("c-2", 0.9, later(at, 50)),  # judged again, later: this one counts
        scored("c-3", 0.5, later(at, 5)),  # not one of the window's calls
        scored("c-1", 0.1, later(at, 9), run_id="run-1"),  # an offline run, a replay, a pairwise judgment
        scored("c-1", 0.1, later(at, 9), replay_id="replay-1"),
        scored("c-1", 0.1, later(at, 9), evaluator="preference", compared_call_id="c-2"),
    ):
        history.add("acme", "evaluation_scores", data, at)
    for data in (thumbs("c-1", True, later(END, -30)), thumbs("c-2", False, later(START, 20)),
                 thumbs("c-2", True, later(START, 40)), thumbs("c-3", True, later(START, 40)),
                 thumbs("c-4", False, later(END, LAG_S + 1))):  # fmt: skip
        history.add("acme", "feedback", data, datetime.fromisoformat(data["given_at"]))

    joined = await _outcomes(history).join("acme", "support-bot", START, END, _calls("c-1", "c-2", "c-4"))

    assert joined.read and joined.notes == ()
    assert joined.rows == [
        {"latency_ms": 200.0, "score:relevance@1/relevance": 0.8, "feedback:thumbs_up": "true"},
        {"latency_ms": 200.0, "score:relevance@1/relevance": 0.9, "feedback:thumbs_up": "true"},
        {"latency_ms": 200.0},  # its thumbs came after the window's end and grace
    ]
    assert history.reads == [
        ("acme", "evaluation_scores", {"app": "support-bot", "start": START.isoformat(), "end": END.isoformat()}),
        ("acme", "feedback", {"start": START.isoformat(), "end": later(END, LAG_S).isoformat()}),
    ]


async def test_ratings_labels_and_failed_scores() -> None:
    history = InMemoryHistory()
    failed = scored("c-1", 0.5, START)
    failed["scores"][0] = {**failed["scores"][0], "outcome": "timeout"}
    del failed["scores"][0]["score"]
    history.add("acme", "evaluation_scores", failed, START)
    rating = {"feedback_id": "r-1", "call_id": "c-1", "kind": "rating", "value": 4, "given_at": START.isoformat()}
    label = {
        "feedback_id": "l-1",
        "call_id": "c-1",
        "kind": "label",
        "label": "off-topic",
        "given_at": START.isoformat(),
    }
    comment = {
        "feedback_id": "m-1",
        "call_id": "c-1",
        "kind": "comment",
        "comment": "meh",
        "given_at": START.isoformat(),
    }
    for data in (rating, label, comment):
        history.add("acme", "feedback", data, START)

    joined = await _outcomes(history).join("acme", "support-bot", START, END, _calls("c-1"))

    assert joined.rows == [{"latency_ms": 200.0, "feedback:rating": 4.0, "feedback:label": "off-topic"}]
    assert outcome_kind("feedback:rating") is outcome_kind("score:x@1/x") is Kind.NUMERIC
    assert outcome_kind("feedback:thumbs_up") is outcome_kind("feedback:label") is Kind.CATEGORICAL
    assert outcome_kind("latency_ms") is None


async def test_a_warehouse_that_cannot_answer_leaves_the_rows_as_they_are_and_says_so() -> None:
    history = InMemoryHistory()
    history.unavailable = True

    joined = await _outcomes(history).join("acme", "support-bot", START, END, _calls("c-1"))

    assert not joined.read and joined.rows == [{"latency_ms": 200.0}]
    assert joined.notes == ("evaluation scores and feedback not read: the warehouse answered 503",)


class _Silent:
    """A warehouse that never answers."""

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_warehouse_that_never_answers_is_bounded_by_the_timeout() -> None:
    joined = await _outcomes(_Silent(), timeout_s=0.05).join("acme", "support-bot", START, END, _calls("c-1"))

    assert not joined.read and joined.notes == ("evaluation scores and feedback not read: no answer within 0.05 s",)


async def test_a_read_stopped_at_its_bound_says_so() -> None:
    history = InMemoryHistory()
    for n in range(3):
        history.add("acme", "evaluation_scores", scored(f"c-{n}", 0.5, START), later(START, n))

    joined = await _outcomes(history, max_rows=2).join("acme", "support-bot", START, END, _calls("c-0", "c-1", "c-2"))

    assert joined.read and "score:relevance@1/relevance" not in joined.rows[0]  # the oldest was not read
    assert joined.notes == ("evaluation_scores read stopped at 2 events (newest first): earlier ones were not joined",)
