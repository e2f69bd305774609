"""Objectives over stored events (evaluation scores, thumbs, cost per call and per day): counts, burn alerts
through the poller with an injectable clock, and bounded reads (a fake of the warehouse's generic read)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from llmops_alerting.poller import Poller
from llmops_alerting.sli import EventCounts
from llmops_kit.warehouse import HistoryRows
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ObjectiveConfigured
from llmops_schemas.v2 import AlertStateChanged, CallRecorded, CostRecorded, EvaluationScored, FeedbackReceived

from tests.unit.alerting.sli_contract import EventSliContract
from tests.unit.alerting.support import NOW
from tests.unit.alerting.test_engine import engine_with

TABLES = {
    CallRecorded: "calls",
    EvaluationScored: "evaluation_scores",
    FeedbackReceived: "feedback",
    CostRecorded: "cost_records",
}
DEFAULTS = {"origin": "application"}
"""What a row the tests add without the field has (calls are applications' unless said otherwise)."""


class FakeHistory:
    """The warehouse's ``GET /v1/events/{table}``: rows newest first, filtered by time and the given fields."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.reads: list[tuple[str, dict[str, str]]] = []

    def add(self, table: str, at: datetime, **data: Any) -> None:
        self.tables.setdefault(table, []).append({"time": at.isoformat(), "data": data})

    async def seed(self, events: list[CloudEvent[Any]]) -> None:
        """Store published events as the warehouse does (a call's time is its start)."""
        for event in events:
            table = TABLES[type(event.data)]
            at = event.data.started_at if table == "calls" else event.time
            self.tables.setdefault(event.tenant_id + "/" + table, []).append(
                {"time": at.isoformat(), "data": event.data.model_dump(mode="json")}
            )

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows:
        self.reads.append((table, dict(params)))
        start, end = datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"])
        fields = {k: v for k, v in params.items() if k not in ("start", "end")}
        rows = [
            r
            for r in self.tables.get(table, []) + self.tables.get(tenant + "/" + table, [])
            if start <= datetime.fromisoformat(r["time"]) < end
            and all(r["data"].get(k, DEFAULTS.get(k)) == v for k, v in fields.items())
        ]
        rows.sort(key=lambda r: r["time"], reverse=True)
        return HistoryRows(rows[:max_rows], truncated=len(rows) > max_rows)

    async def metrics_summary(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        return []

    async def metrics_timeseries(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        return []


class TestFakeHistory(EventSliContract):
    """The contract on the fake the other tests use (its real counterpart: the warehouse over chDB)."""

    @pytest.fixture
    def history(self) -> FakeHistory:
        return FakeHistory()

    @pytest.fixture
    def seed(self, history: FakeHistory) -> Any:
        return history.seed


def objective(sli: str, threshold: float, target: float = 0.9, **extra: Any) -> ObjectiveConfigured:
    return ObjectiveConfigured(
        objective_id=f"o-{sli}",
        app="bot",
        sli=sli,
        threshold=threshold,
        target=target,
        window_days=28,
        notifiers=["pd"],
        updated_by="k",
        updated_at=NOW,
        **extra,
    )


def score(history: FakeHistory, at: datetime, value: float, **extra: Any) -> None:
    item = {"metric": "relevance", "outcome": "scored", "score": value}
    history.add("evaluation_scores", at, app="bot", scores=[item], **extra)


async def counts(history: FakeHistory, obj: ObjectiveConfigured, start: datetime, end: datetime, **kw: Any) -> Any:
    reader = EventCounts(history, "acme", max_events=kw.get("max_events", 1000), feedback_lookback=timedelta(days=1))
    return await reader(obj, start, end)


async def test_evaluation_scores_count_online_scores_of_the_metric_against_the_threshold() -> None:
    history = FakeHistory()
    for i, value in enumerate((0.9, 0.8, 0.2)):
        score(history, NOW - timedelta(minutes=i + 1), value)
    score(history, NOW - timedelta(minutes=1), 0.0, run_id="run-1")  # an offline run: platform traffic
    score(history, NOW - timedelta(minutes=1), 0.0, replay_id="rp-1")
    history.add(
        "evaluation_scores",
        NOW - timedelta(minutes=1),
        app="bot",
        scores=[{"metric": "tone", "outcome": "scored", "score": 0.0}],
    )
    found = await counts(history, objective("evaluation_score", 0.5, metric="relevance"), NOW - timedelta(hours=1), NOW)
    assert (found.good, found.total, found.truncated) == (2, 3, False)
    assert history.reads == [
        ("evaluation_scores", {"start": (NOW - timedelta(hours=1)).isoformat(), "end": NOW.isoformat(), "app": "bot"})
    ]


async def test_thumbs_count_the_apps_calls_only_and_the_latest_feedback_of_an_id() -> None:
    history = FakeHistory()
    history.add("calls", NOW - timedelta(hours=2), call_id="c1", app="bot")
    history.add("calls", NOW - timedelta(hours=2), call_id="c2", app="bot")
    history.add("calls", NOW - timedelta(hours=2), call_id="other", app="other-app")
    history.add("feedback", NOW - timedelta(minutes=30), feedback_id="f1", call_id="c1", kind="thumbs", value=0)
    history.add("feedback", NOW - timedelta(minutes=10), feedback_id="f1", call_id="c1", kind="thumbs", value=1)
    history.add("feedback", NOW - timedelta(minutes=5), feedback_id="f2", call_id="c2", kind="thumbs", value=0)
    history.add("feedback", NOW - timedelta(minutes=5), feedback_id="f3", call_id="other", kind="thumbs", value=0)
    history.add("feedback", NOW - timedelta(minutes=5), feedback_id="f4", call_id="c2", kind="rating", value=1)
    found = await counts(history, objective("thumbs_up_rate", 1), NOW - timedelta(hours=1), NOW)
    assert (found.good, found.total) == (1, 2)  # f1 changed to up, f2 down; the other app's and a rating ignored


async def test_cost_per_call_and_per_day() -> None:
    history = FakeHistory()
    today = NOW.replace(hour=0)
    history.add("cost_records", today + timedelta(minutes=5), app="bot", cost=0.4)  # before the short window
    history.add("cost_records", NOW - timedelta(minutes=2), app="bot", cost=0.02)
    history.add("cost_records", NOW - timedelta(days=1, hours=1), app="bot", cost=0.1)
    per_call = await counts(history, objective("cost_per_call", 0.05), NOW - timedelta(hours=1), NOW)
    assert (per_call.good, per_call.total) == (1, 1)
    per_day = objective("cost_per_day", 0.3)
    assert (await counts(history, per_day, NOW - timedelta(minutes=5), NOW)).good == 0  # today: 0.42 > 0.3
    two_days = await counts(history, per_day, NOW - timedelta(days=2), NOW)
    assert (two_days.good, two_days.total) == (1, 2)  # yesterday within the cap, today past it


async def test_a_read_past_its_bound_says_so_in_the_status() -> None:
    history = FakeHistory()
    for i in range(30):
        score(history, NOW - timedelta(minutes=i + 1), 0.9)
    found = await counts(
        history, objective("evaluation_score", 0.5, metric="relevance"), NOW - timedelta(days=28), NOW, max_events=10
    )
    assert found.truncated and found.total == 10
    engine, _ = engine_with(objective("evaluation_score", 0.5, metric="relevance"))
    poller = Poller(engine, engine.config, history, interval_s=30, clock=lambda: NOW, max_events=10)
    await poller.run_once()
    assert poller.statuses[("acme", "o-evaluation_score")].truncated


async def test_one_pass_reads_an_objectives_window_once() -> None:
    history = FakeHistory()
    engine, _ = engine_with(objective("cost_per_call", 0.05))
    await Poller(engine, engine.config, history, interval_s=30, clock=lambda: NOW).run_once()
    assert [table for table, _ in history.reads] == ["cost_records"]


@pytest.mark.parametrize("sli", ["evaluation_score", "thumbs_up_rate", "cost_per_call"])
async def test_a_burst_of_bad_events_pages_and_resolves_as_the_clock_moves_on(sli: str) -> None:
    history = FakeHistory()
    obj = objective(sli, {"evaluation_score": 0.5, "thumbs_up_rate": 1, "cost_per_call": 0.05}[sli],
                    metric="relevance" if sli == "evaluation_score" else None)  # fmt: skip
    for i in range(200):  # 28 days of good events, then 10 minutes of bad ones
        at = NOW - timedelta(days=27) + timedelta(hours=3 * i)
        good = {"evaluation_score": 0.9, "thumbs_up_rate": 1, "cost_per_call": 0.01}[sli]
        add_event(history, sli, at, good, f"g{i}")
    for i in range(20):
        bad = {"evaluation_score": 0.1, "thumbs_up_rate": 0, "cost_per_call": 0.5}[sli]
        add_event(history, sli, NOW - timedelta(minutes=10) + timedelta(seconds=20 * i), bad, f"b{i}")
    clock = [NOW]
    engine, publisher = engine_with(obj)
    poller = Poller(engine, engine.config, history, interval_s=30, clock=lambda: clock[0])
    await poller.run_once()
    fired = {c.labels["burn"]: c.status for c in publisher.of(AlertStateChanged)}
    assert fired == {"fast": "firing", "slow": "firing"}
    clock[0] = NOW + timedelta(hours=2)  # the short windows hold no bad events any more
    for i in range(10):
        add_event(
            history,
            sli,
            NOW + timedelta(hours=1, minutes=i * 6),
            {"evaluation_score": 0.9, "thumbs_up_rate": 1, "cost_per_call": 0.01}[sli],
            f"n{i}",
        )
    await poller.run_once()
    changes = [(c.labels["burn"], c.status) for c in publisher.of(AlertStateChanged)]
    assert ("fast", "resolved") in changes
    status = poller.statuses[("acme", obj.objective_id)]
    assert status.budget_remaining < 1 and status.sli is not None


def add_event(history: FakeHistory, sli: str, at: datetime, value: float, ident: str) -> None:
    if sli == "evaluation_score":
        score(history, at, value)
    elif sli == "cost_per_call":
        history.add("cost_records", at, app="bot", cost=value, call_id=ident)
    else:
        history.add("calls", at, call_id=ident, app="bot")
        history.add("feedback", at, feedback_id=ident, call_id=ident, kind="thumbs", value=value)


async def test_spending_past_the_daily_cap_pages_until_the_next_day() -> None:
    history = FakeHistory()
    history.add("cost_records", NOW - timedelta(minutes=1), app="bot", cost=5.0)
    clock = [NOW]
    engine, publisher = engine_with(objective("cost_per_day", 1.0, target=0.95))
    poller = Poller(engine, engine.config, history, interval_s=30, clock=lambda: clock[0])
    await poller.run_once()
    assert {c.labels["burn"] for c in publisher.of(AlertStateChanged) if c.status == "firing"} == {"fast", "slow"}
    clock[0] = NOW.replace(hour=0) + timedelta(days=1, hours=1)
    await poller.run_once()
    assert ("fast", "resolved") in [(c.labels["burn"], c.status) for c in publisher.of(AlertStateChanged)]
