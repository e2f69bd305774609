"""Evaluation scores and feedback of a window's calls, read from the warehouse when the window closes.

Scores and feedback arrive after the call (a judge takes seconds, a user's thumbs minutes), so they are not
streamed into the windows: at a window's close, its calls' scores and feedback are read through the warehouse's
query API (``HistoryReader.read``, the one way a service reads history, ADR 0007) and joined to the calls' rows
by call id. Only the window's calls are joined, so the platform's own traffic (judges, offline runs), which
never reaches the windows, has no scores here either. Features (docs/drift.md):

* ``score:<evaluator>@<version>/<metric>``, numeric: the call's latest score of that evaluator version and
  metric (scores of two versions are not comparable, so a new version is a new feature). Pairwise judgments,
  offline runs and replays are left out: they score something else than the call as it was served.
* ``feedback:thumbs_up`` (``true``/``false``), ``feedback:label`` (categorical) and ``feedback:rating``
  (numeric, 1-5): the call's latest feedback of that kind.

A call without one has no value (not a category "missing"): the report tests the calls that have one, and
says on how many of the window's calls that was. What is read: ``evaluation_scores`` of the scope's app whose
event time (the call's ``started_at``) is in the window, and ``feedback`` whose event time (``given_at``) is
from the window's start to its end plus ``lag_s`` (the windows' grace, so each window has the same time for
feedback to come in). Each read is bounded (``max_rows`` events, ``timeout_s`` for both); a warehouse that
cannot answer leaves the rows as they are and says why (``Joined.notes``): the window closes without these
features rather than waiting (ADR 0055).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from llmops_drift import Kind
from llmops_kit.warehouse import HistoryError, HistoryReader, HistoryUnavailable

from llmops_drift_detection.features import Row

__all__ = ["SPARSE_PREFIXES", "Joined", "Outcomes", "outcome_kind"]

SPARSE_PREFIXES = ("score:", "feedback:")
"""Features only some calls have (the report tests the calls that have one)."""
_FEEDBACK = {"thumbs": "feedback:thumbs_up", "rating": "feedback:rating", "label": "feedback:label"}
log = logging.getLogger(__name__)


def outcome_kind(name: str) -> Kind | None:
    """The kind of a score or feedback feature, None for any other feature."""
    if name.startswith("score:") or name == "feedback:rating":
        return Kind.NUMERIC
    return Kind.CATEGORICAL if name.startswith("feedback:") else None


@dataclass(frozen=True)
class Joined:
    """The rows with their calls' scores and feedback; ``notes`` say what could not be read, ``read`` whether
    the warehouse answered at all."""

    rows: list[Row]
    notes: tuple[str, ...] = ()
    read: bool = True


def _latest(found: dict[tuple[str, str], tuple[str, object]], call: str, name: str, at: str, value: object) -> None:
    """Keep the value of ``(call, name)`` with the latest time (ISO times of one format compare as text)."""
    if (call, name) not in found or at > found[(call, name)][0]:
        found[(call, name)] = (at, value)


def _scores(events: Iterable[dict[str, Any]], calls: Mapping[str, Row]) -> dict[tuple[str, str], tuple[str, object]]:
    found: dict[tuple[str, str], tuple[str, object]] = {}
    for event in events:
        data = event.get("data") or {}
        call = data.get("call_id")
        if (
            not isinstance(call, str)
            or call not in calls
            or data.get("compared_call_id")
            or data.get("run_id")
            or data.get("replay_id")
        ):
            continue
        for item in data.get("scores") or []:
            if item.get("outcome", "scored") != "scored" or item.get("score") is None:
                continue
            evaluator = item.get("evaluator") or {}
            name = f"score:{evaluator.get('name')}@{evaluator.get('version')}/{item.get('metric')}"
            _latest(found, call, name, str(data.get("judged_at", "")), float(item["score"]))
    return found


def _feedback(events: Iterable[dict[str, Any]], calls: Mapping[str, Row]) -> dict[tuple[str, str], tuple[str, object]]:
    found: dict[tuple[str, str], tuple[str, object]] = {}
    for event in events:
        data = event.get("data") or {}
        call, kind = data.get("call_id"), data.get("kind")
        if not isinstance(call, str) or call not in calls or kind not in _FEEDBACK:
            continue
        if kind == "thumbs" and data.get("value") is not None:
            value: object = "true" if data["value"] >= 1 else "false"
        elif kind == "rating" and data.get("value") is not None:
            value = float(data["value"])
        elif kind == "label" and data.get("label"):
            value = str(data["label"])
        else:
            continue
        _latest(found, call, _FEEDBACK[kind], str(data.get("given_at", "")), value)
    return found


class Outcomes:
    """Joins a window's calls with their scores and feedback from the warehouse (bounded reads)."""

    def __init__(self, reader: HistoryReader, *, lag_s: float, max_rows: int, timeout_s: float) -> None:
        self.reader, self.lag, self.max_rows, self.timeout_s = reader, timedelta(seconds=lag_s), max_rows, timeout_s

    async def join(self, tenant: str, app: str, start: datetime, end: datetime, calls: Mapping[str, Row]) -> Joined:
        """``calls`` (rows by call id, of ``tenant``'s ``app`` in ``[start, end)``) with their outcomes."""
        if not calls:
            return Joined([])
        scores = {"app": app, "start": start.isoformat(), "end": end.isoformat()}
        feedback = {"start": start.isoformat(), "end": (end + self.lag).isoformat()}
        try:
            async with asyncio.timeout(self.timeout_s):
                scored = await self.reader.read(tenant, "evaluation_scores", scores, self.max_rows)
                given = await self.reader.read(tenant, "feedback", feedback, self.max_rows)
        except (HistoryUnavailable, HistoryError, TimeoutError) as exc:
            why = str(exc) or f"no answer within {self.timeout_s:g} s"
            log.warning("window closed without scores and feedback: %s", why)
            return Joined(list(calls.values()), (f"evaluation scores and feedback not read: {why}"[:1024],), False)
        found = _scores(scored.rows, calls) | _feedback(given.rows, calls)
        added: dict[str, Row] = {}
        for (call, name), (_, value) in found.items():
            added.setdefault(call, {})[name] = value
        rows = [row | added.get(call, {}) for call, row in calls.items()]
        notes = tuple(
            f"{table} read stopped at {self.max_rows} events (newest first): earlier ones were not joined"
            for table, read in (("evaluation_scores", scored), ("feedback", given))
            if read.truncated
        )
        return Joined(rows, notes)
