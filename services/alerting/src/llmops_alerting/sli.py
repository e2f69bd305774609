"""Objectives over stored events: evaluation scores, thumbs, cost per call and cost per day.

The warehouse's call metrics have no scores, feedback or costs, so these SLIs read the stored events through
its generic query API (``GET /v1/events/{table}``, the kit's bounded ``read``) with the service key:

* ``evaluation_score``: each online score of the objective's ``metric`` (offline runs and replays excluded) is
  an event, good when at least ``threshold``;
* ``thumbs_up_rate``: each thumbs feedback on one of the app's calls (applications' calls only) is an event,
  good when up. Feedback does not name the app: it is joined on ``call_id`` with the app's calls from
  ``feedback_lookback`` before the window on (feedback on an older call is not counted);
* ``cost_per_call``: each priced cost record of an application's call is an event, good when at most
  ``threshold`` USD;
* ``cost_per_day``: each UTC day that starts within the window, and today, is an event (time slices), good
  when the day's spend is at most ``threshold`` USD. Today is bad as soon as its spend so far passes the
  threshold, and every burn window sees today: spending past the daily cap pages at once, and the alert
  resolves with the next day.

One pass reads an objective's whole window once (the first and largest read of
:func:`~llmops_alerting.objectives.evaluate_objective`) and answers its shorter windows from that read. A read
stops at ``max_events`` (newest first): the counts then cover the newest events only and say so
(``truncated``), which the objective's status shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from llmops_kit.warehouse import HistoryReader
from llmops_schemas.v1 import ObjectiveConfigured

from llmops_alerting.objectives import Counts

__all__ = ["EVENT_SLIS", "EventCounts", "Sample"]

EVENT_SLIS = ("evaluation_score", "thumbs_up_rate", "cost_per_call", "cost_per_day")
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored event of an objective: when, and the value judged against the threshold."""

    at: datetime
    value: float


@dataclass
class _Read:
    start: datetime
    end: datetime
    samples: list[Sample]
    truncated: bool


def _when(row: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))


def _day(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _days_start(start: datetime, end: datetime) -> datetime:
    """The first day of a window's slices: the days that start within it, and today's always (whole days: a
    day's spend includes what came before the window on that day)."""
    first = _day(start)
    return first + _DAY if first < start and first + _DAY < end else first


def _scope(objective: ObjectiveConfigured, *names: str) -> dict[str, str]:
    given = {"app": objective.app, "model": objective.model, "prompt_name": objective.prompt_name}
    return {name: value for name, value in given.items() if name in names and value is not None}


def _scores(objective: ObjectiveConfigured, rows: list[dict[str, Any]]) -> Iterator[Sample]:
    for row in rows:
        data = row.get("data") or {}
        if data.get("run_id") or data.get("replay_id"):
            continue  # offline runs and replays are platform traffic
        for item in data.get("scores") or ():
            if (
                item.get("metric") == objective.metric
                and item.get("outcome") == "scored"
                and item.get("score") is not None
            ):
                yield Sample(_when(row), float(item["score"]))


def _costs(rows: list[dict[str, Any]]) -> Iterator[Sample]:
    for row in rows:
        data = row.get("data") or {}
        if data.get("origin") == "platform" or data.get("cost") is None:
            continue  # platform traffic; an unpriced call's cost is unknown (and adds nothing to a day)
        yield Sample(_when(row), float(data["cost"]))


class EventCounts:
    """:data:`~llmops_alerting.objectives.CountReader` of the event SLIs for one tenant and one pass."""

    def __init__(self, reader: HistoryReader, tenant: str, *, max_events: int, feedback_lookback: timedelta) -> None:
        self._reader = reader
        self._tenant = tenant
        self._max = max_events
        self._lookback = feedback_lookback
        self._reads: dict[str, _Read] = {}

    async def __call__(self, objective: ObjectiveConfigured, start: datetime, end: datetime) -> Counts:
        if objective.sli == "cost_per_day":
            start = _days_start(start, end)
        read = await self._read(objective, start, end)
        samples = [s for s in read.samples if start <= s.at < end]
        threshold = objective.threshold or 0.0
        if objective.sli == "cost_per_day":
            spent: dict[datetime, float] = defaultdict(float)
            for sample in samples:
                spent[_day(sample.at)] += sample.value
            days = [start + _DAY * i for i in range(-(-(end - start) // _DAY))]
            good = sum(1 for day in days if spent.get(day, 0.0) <= threshold)
            return Counts(good=good, total=len(days), truncated=read.truncated)
        if objective.sli == "cost_per_call":
            good = sum(1 for s in samples if s.value <= threshold)
        elif objective.sli == "thumbs_up_rate":
            good = sum(1 for s in samples if s.value >= 1)
        else:
            good = sum(1 for s in samples if s.value >= threshold)
        return Counts(good=good, total=len(samples), truncated=read.truncated)

    async def _read(self, objective: ObjectiveConfigured, start: datetime, end: datetime) -> _Read:
        cached = self._reads.get(objective.objective_id)
        if cached is not None and cached.end == end and cached.start <= start:
            return cached
        samples, truncated = await self._samples(objective, start, end)
        self._reads[objective.objective_id] = found = _Read(start, end, samples, truncated)
        return found

    async def _rows(self, table: str, params: dict[str, str]) -> tuple[list[dict[str, Any]], bool]:
        found = await self._reader.read(self._tenant, table, params, self._max)
        return found.rows, found.truncated

    async def _samples(
        self, objective: ObjectiveConfigured, start: datetime, end: datetime
    ) -> tuple[list[Sample], bool]:
        span = {"start": start.isoformat(), "end": end.isoformat()}
        if objective.sli == "evaluation_score":
            rows, truncated = await self._rows("evaluation_scores", {**span, **_scope(objective, "app")})
            return list(_scores(objective, rows)), truncated
        if objective.sli in ("cost_per_call", "cost_per_day"):
            scope = _scope(objective, "app", "model", "prompt_name")
            rows, truncated = await self._rows("cost_records", {**span, **scope})
            return list(_costs(rows)), truncated
        return await self._thumbs(objective, start, end)

    async def _thumbs(
        self, objective: ObjectiveConfigured, start: datetime, end: datetime
    ) -> tuple[list[Sample], bool]:
        calls_span = {"start": (start - self._lookback).isoformat(), "end": end.isoformat(), "origin": "application"}
        calls, calls_cut = await self._rows("calls", {**calls_span, **_scope(objective, "app", "model", "prompt_name")})
        ids = {str((c.get("data") or {}).get("call_id")) for c in calls}
        rows, truncated = await self._rows("feedback", {"start": start.isoformat(), "end": end.isoformat()})
        latest: dict[str, Sample] = {}
        for row in rows:  # newest first: a later feedback with the same id replaces an earlier one
            data = row.get("data") or {}
            if data.get("kind") == "thumbs" and str(data.get("call_id")) in ids:
                latest.setdefault(str(data.get("feedback_id")), Sample(_when(row), float(data.get("value") or 0.0)))
        return list(latest.values()), truncated or calls_cut
