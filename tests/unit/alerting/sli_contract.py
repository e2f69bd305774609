"""What the event objectives count from the warehouse's generic read, as one suite run against the unit tests'
fake (test_objective_slis.py) and the kit's WarehouseReader on the warehouse's API over chDB
(tests/integration/alerting/test_event_objectives.py): the same stored events give the same counts.

Subclass :class:`EventSliContract` and provide ``history`` (a HistoryReader) and ``seed`` (``await
seed(events)`` stores published events, calls included, so that the reader sees them).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from llmops_alerting.sli import EventCounts
from llmops_kit.warehouse import HistoryReader
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ObjectiveConfigured
from llmops_schemas.v2 import CallRecorded, ChatMessage, CostRecorded, EvaluationScored, FeedbackReceived
from llmops_schemas.v2.examples import EXAMPLES

Seed = Callable[[list[CloudEvent[Any]]], Awaitable[None]]
END = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
"""Yesterday noon: within every retention, and the window does not cross a day."""
START = END - timedelta(hours=2)


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def objective(sli: str, threshold: float, **extra: Any) -> ObjectiveConfigured:
    return ObjectiveConfigured(
        objective_id=f"o-{uuid.uuid4().hex[:8]}", app="bot", sli=sli, threshold=threshold, target=0.9,
        updated_by="k", updated_at=END, **extra,
    )  # fmt: skip


def _wrap(payload: Any, owner: str, at: datetime) -> CloudEvent[Any]:
    event = CloudEvent.wrap(payload, source="/tests/alerting", tenant_id=owner)
    return event.model_copy(update={"time": at})


def call(owner: str, call_id: str, at: datetime, app: str = "bot", origin: str = "application") -> CloudEvent[Any]:
    payload = CallRecorded(
        call_id=call_id, app=app, model="m", provider="p", messages=[ChatMessage(role="user", content="hi")],
        started_at=at, latency_ms=10.0, status="ok", origin=origin,
    )  # fmt: skip
    return _wrap(payload, owner, at)


def score(owner: str, at: datetime, value: float, app: str = "bot", **extra: Any) -> CloudEvent[Any]:
    base = EvaluationScored.model_validate(EXAMPLES[EvaluationScored])
    item = base.scores[0].model_copy(update={"metric": "relevance", "score": value, "outcome": "scored"})
    payload = base.model_copy(
        update={"evaluation_id": uuid.uuid4().hex, "scores": [item], "app": app, "judged_at": at, **extra}
    )
    return _wrap(payload, owner, at)


def thumb(owner: str, feedback_id: str, call_id: str, up: bool, at: datetime) -> CloudEvent[Any]:
    payload = FeedbackReceived(feedback_id=feedback_id, call_id=call_id, kind="thumbs", value=int(up), given_at=at)
    return _wrap(payload, owner, at)


def cost(owner: str, at: datetime, usd: str | None, model: str = "m", origin: str = "application") -> CloudEvent[Any]:
    priced = {"pricing": "priced", "cost": Decimal(usd)} if usd is not None else {
        "pricing": "unpriced", "cost": None, "unpriced_reason": "no price"}  # fmt: skip
    payload = CostRecorded.model_validate(
        {**EXAMPLES[CostRecorded], "call_id": uuid.uuid4().hex, "app": "bot", "model": model, "origin": origin,
         "call_started_at": at, "recorded_at": at, **priced}
    )  # fmt: skip
    return _wrap(payload, owner, at)


async def counts(history: HistoryReader, owner: str, obj: ObjectiveConfigured, max_events: int = 1000) -> Any:
    reader = EventCounts(history, owner, max_events=max_events, feedback_lookback=timedelta(days=1))
    return await reader(obj, START, END)


class EventSliContract:
    async def test_online_scores_of_the_app_and_metric(self, history: HistoryReader, seed: Seed) -> None:
        owner = tenant()
        at = START + timedelta(minutes=10)
        await seed(
            [score(owner, at, 0.9), score(owner, at, 0.8), score(owner, at, 0.2), score(owner, at, 0.0, run_id="r-1"),
             score(owner, at, 0.0, app="other"), score(owner, END + timedelta(minutes=1), 0.0),
             score(tenant(), at, 0.0)]
        )  # fmt: skip
        found = await counts(history, owner, objective("evaluation_score", 0.5, metric="relevance"))
        assert (found.good, found.total, found.truncated) == (2, 3, False)

    async def test_thumbs_on_the_apps_calls_latest_first(self, history: HistoryReader, seed: Seed) -> None:
        owner = tenant()
        before, at = START - timedelta(hours=3), START + timedelta(minutes=10)
        await seed(
            [call(owner, "c1", before), call(owner, "c2", before), call(owner, "c3", before, app="other"),
             call(owner, "c4", before, origin="platform"),
             thumb(owner, "f1", "c1", True, at), thumb(owner, "f2", "c2", False, at),
             thumb(owner, "f2", "c2", True, at + timedelta(minutes=5)), thumb(owner, "f3", "c3", False, at),
             thumb(owner, "f4", "c4", False, at)]
        )  # fmt: skip
        found = await counts(history, owner, objective("thumbs_up_rate", 1))
        assert (found.good, found.total) == (2, 2)

    async def test_priced_application_costs(self, history: HistoryReader, seed: Seed) -> None:
        owner = tenant()
        at = START + timedelta(minutes=10)
        await seed(
            [cost(owner, at, "0.01"), cost(owner, at, "0.2"), cost(owner, at, None), cost(owner, at, "0.9", "big"),
             cost(owner, at, "0.9", origin="platform")]
        )  # fmt: skip
        per_call = await counts(history, owner, objective("cost_per_call", 0.05, model="m"))
        assert (per_call.good, per_call.total) == (1, 2)
        over = await counts(history, owner, objective("cost_per_day", 1.0))
        assert (over.good, over.total) == (0, 1)  # 1.11 USD that day (platform and unpriced calls add nothing)
        within = await counts(history, owner, objective("cost_per_day", 1.2))
        assert (within.good, within.total) == (1, 1)

    async def test_a_read_is_bounded_and_says_so(self, history: HistoryReader, seed: Seed) -> None:
        owner = tenant()
        await seed([score(owner, START + timedelta(minutes=i), 0.9) for i in range(5)])
        found = await counts(history, owner, objective("evaluation_score", 0.5, metric="relevance"), max_events=3)
        assert (found.total, found.truncated) == (3, True)
