"""The behaviour every HistoryReader must have, as one suite run against the fake and the real reader.

Subclass :class:`HistoryContract` and provide ``history`` (the reader) and ``seed`` (``await seed(events)``
stores feedback events so that the reader sees them). test_history_fake.py runs it on
:class:`tests.unit.feedback.history.InMemoryHistory`; tests/integration/feedback/test_history_contract.py
on the kit's :class:`~llmops_kit.warehouse.WarehouseReader` against the warehouse's API on chDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from llmops_kit.warehouse import HistoryReader
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import FeedbackReceived

Seed = Callable[[list[CloudEvent[FeedbackReceived]]], Awaitable[None]]
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def feedback(tenant: str, n: int, call_id: str = "call-1") -> CloudEvent[FeedbackReceived]:
    at = T0 + timedelta(minutes=n)
    data = FeedbackReceived(feedback_id=f"fb-{n}", call_id=call_id, kind="thumbs", value=n % 2, given_at=at)
    event = CloudEvent.wrap(data, source="/tests/history", tenant_id=tenant, subject=call_id, key_id="k-1")
    return event.model_copy(update={"time": at})


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def ids(rows: list[dict[str, object]]) -> list[str]:
    return [row["data"]["feedback_id"] for row in rows]  # type: ignore[index]


class HistoryContract:
    async def test_newest_first_and_scoped_to_the_tenant(self, history: HistoryReader, seed: Seed) -> None:
        mine, other = tenant(), tenant()
        await seed([feedback(mine, 1), feedback(mine, 3), feedback(mine, 2), feedback(other, 4)])
        read = await history.read(mine, "feedback", {"start": T0.isoformat()}, 100)
        assert ids(read.rows) == ["fb-3", "fb-2", "fb-1"]
        assert read.truncated is False
        assert read.rows[0]["key_id"] == "k-1"

    async def test_time_window_and_call_filter(self, history: HistoryReader, seed: Seed) -> None:
        mine = tenant()
        await seed([feedback(mine, 1), feedback(mine, 2, "call-2"), feedback(mine, 3), feedback(mine, 5)])
        window = {"start": (T0 + timedelta(minutes=2)).isoformat(), "end": (T0 + timedelta(minutes=5)).isoformat()}
        assert ids((await history.read(mine, "feedback", window, 100)).rows) == ["fb-3", "fb-2"]
        only = {"start": T0.isoformat(), "call_id": "call-2"}
        assert ids((await history.read(mine, "feedback", only, 100)).rows) == ["fb-2"]

    async def test_at_most_max_rows_and_says_so(self, history: HistoryReader, seed: Seed) -> None:
        mine = tenant()
        await seed([feedback(mine, n) for n in range(1, 6)])
        read = await history.read(mine, "feedback", {"start": T0.isoformat()}, 3)
        assert ids(read.rows) == ["fb-5", "fb-4", "fb-3"]
        assert read.truncated is True
        exact = await history.read(mine, "feedback", {"start": T0.isoformat()}, 5)
        assert len(exact.rows) == 5 and exact.truncated is False
