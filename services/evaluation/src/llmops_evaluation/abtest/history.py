"""What a verdict reads: the experiment, its calls and their scores, feedback and costs, from the warehouse.

Only calls the gateway recorded (``source`` is the gateway's) for the applications (``origin: application``)
count: an application could name an experiment in a call it sends through ingest, and the platform's own calls
(judges, offline runs) are not the experiment's traffic. Every read goes through the kit's
:class:`~llmops_kit.platform_client.WarehouseReader` with the service's key, bounded by ``max_calls`` and
``max_events`` per kind; a verdict past a bound says ``truncated``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmops_kit.platform_client import WarehouseReader
from llmops_schemas.v1 import ExperimentConfigured
from pydantic import ValidationError

__all__ = [
    "CallFact",
    "ExperimentData",
    "FeedbackFact",
    "ScoreFact",
    "UnknownExperiment",
    "WarehouseHistory",
    "scores_of",
]


class UnknownExperiment(LookupError):
    """The tenant has no such experiment (or it was deleted)."""


@dataclass(frozen=True)
class CallFact:
    """What a verdict needs of one call: its arm, when it started (epoch seconds), and how it went."""

    call_id: str
    variant: str
    time: float
    error: bool
    latency_ms: float


@dataclass(frozen=True)
class ScoreFact:
    call_id: str
    metric: str
    score: float


@dataclass(frozen=True)
class FeedbackFact:
    feedback_id: str
    call_id: str
    kind: str
    value: float
    given_at: str


@dataclass
class ExperimentData:
    """An experiment's definition and everything recorded about its calls."""

    experiment: ExperimentConfigured
    calls: list[CallFact] = field(default_factory=list)
    scores: list[ScoreFact] = field(default_factory=list)
    feedback: list[FeedbackFact] = field(default_factory=list)
    costs: dict[str, float] = field(default_factory=dict)
    truncated: bool = False


def scores_of(item: dict[str, Any]) -> Iterator[ScoreFact]:
    """The scores of its own call one stored ``evaluation_scores`` row carries (the one place that knows the
    score event's shape).

    The warehouse serves ``llmops.evaluation.scored.v2`` (v1 upcast): a pass of ``scores`` items, each with
    ``metric``, ``outcome`` and a ``score`` only when scored. A pairwise judgment (``compared_call_id``) and
    an offline run's score (``run_id``) say nothing about the call alone and are skipped.
    """
    data = item.get("data") or {}
    call_id = data.get("call_id")
    if data.get("compared_call_id") or data.get("run_id"):
        return
    for score in data.get("scores") or []:
        value, metric = score.get("score"), score.get("metric")
        if isinstance(call_id, str) and isinstance(metric, str) and isinstance(value, int | float):
            yield ScoreFact(call_id, metric, float(value))


def _call_fact(row: dict[str, Any], experiment_id: str, gateway_source: str) -> CallFact | None:
    ref = row.get("experiment") or {}
    if row.get("origin") != "application" or row.get("source") != gateway_source:
        return None
    if ref.get("experiment_id") != experiment_id or not isinstance(ref.get("variant"), str):
        return None
    started = datetime.fromisoformat(str(row["started_at"]).replace("Z", "+00:00"))
    return CallFact(
        call_id=str(row["call_id"]),
        variant=ref["variant"],
        time=started.timestamp(),
        error=row.get("status") == "error",
        latency_ms=float(row.get("latency_ms") or 0.0),
    )


def _feedback_fact(item: dict[str, Any]) -> FeedbackFact | None:
    data = item.get("data") or {}
    if data.get("kind") not in ("thumbs", "rating") or not isinstance(data.get("value"), int | float):
        return None
    return FeedbackFact(
        str(data.get("feedback_id")),
        str(data.get("call_id")),
        data["kind"],
        float(data["value"]),
        str(item.get("time")),
    )


async def _bounded(items: AsyncIterator[dict[str, Any]], most: int) -> tuple[list[dict[str, Any]], bool]:
    """At most ``most`` items, and whether there were more (to know, the read may fetch one page past the bound)."""
    found: list[dict[str, Any]] = []
    async for row in items:
        if len(found) == most:
            return found, True
        found.append(row)
    return found, False


class WarehouseHistory:
    """Reads one experiment's data for a tenant through the warehouse's query API."""

    def __init__(self, reader: WarehouseReader, *, gateway_source: str, max_calls: int, max_events: int) -> None:
        self.reader = reader
        self._source = gateway_source
        self._max_calls = max_calls
        self._max_events = max_events

    async def load(self, tenant: str, experiment_id: str) -> ExperimentData:
        """The experiment's latest definition and its calls' facts (``UnknownExperiment`` if it has none)."""
        data = ExperimentData(await self._experiment(tenant, experiment_id))
        rows, data.truncated = await _bounded(
            self.reader.calls(tenant, experiment_id=experiment_id, origin="application"), self._max_calls
        )
        data.calls = [f for f in (_call_fact(r, experiment_id, self._source) for r in rows) if f is not None]
        if not data.calls:
            return data
        ids = {c.call_id for c in data.calls}
        start, app = _iso(min(c.time for c in data.calls)), data.experiment.app
        rows, cut_s = await self._events(tenant, "evaluation_scores", app=app, start=start)
        data.scores = [s for row in rows for s in scores_of(row) if s.call_id in ids]
        rows, cut_f = await self._events(tenant, "feedback", start=start)
        data.feedback = [f for f in map(_feedback_fact, rows) if f is not None and f.call_id in ids]
        rows, cut_c = await self._events(tenant, "cost_records", app=app, start=start)
        # An unpriced call (cost.recorded.v2, cost null) has no cost to compare.
        data.costs = {
            r["data"]["call_id"]: float(r["data"]["cost"])
            for r in rows
            if r["data"]["call_id"] in ids and r["data"].get("cost") is not None
        }
        data.truncated = data.truncated or cut_s or cut_f or cut_c
        return data

    async def _experiment(self, tenant: str, experiment_id: str) -> ExperimentConfigured:
        newest, _ = await _bounded(self.reader.events(tenant, "experiments", experiment_id=experiment_id), 1)
        if not newest or newest[0].get("deleted"):
            raise UnknownExperiment(f"no experiment {experiment_id!r}")
        try:
            return ExperimentConfigured.model_validate(newest[0]["data"])
        except ValidationError as exc:
            detail = f"experiment {experiment_id!r} is stored in a shape this service cannot read"
            raise UnknownExperiment(detail) from exc

    async def _events(self, tenant: str, table: str, **filters: Any) -> tuple[list[dict[str, Any]], bool]:
        return await _bounded(self.reader.events(tenant, table, **filters), self._max_events)


def _iso(epoch_s: float) -> str:
    """An inclusive lower bound: a millisecond early, as the warehouse keeps times to the millisecond."""
    return datetime.fromtimestamp(epoch_s - 0.001, tz=UTC).isoformat()
