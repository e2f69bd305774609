"""Scores and feedback in drift reports: the worker on the session broker, the warehouse's real query API on chDB.

Two windows of one scope with the same traffic; the second's calls were scored lower by an evaluator and given
fewer thumbs up. At each close the worker reads the window's scores and feedback through the kit's
WarehouseReader (a service key naming the tenant) and joins them by call id: the second report drifts on the
score and the thumbs-up feature only, and the reference it was checked against (the first window) had them too.
With the warehouse down, both windows still close on time, their reports saying the scores were not read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.outcomes import Outcomes
from llmops_drift_detection.references import References
from llmops_drift_detection.reports import OUTCOMES_FEATURE
from llmops_drift_detection.stream import DriftStream
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import EvaluationScored, FeedbackReceived
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.events import StoredEvent

from tests.fixtures.clocks import ManualClock
from tests.integration.drift_detection.groups import start_group_at_the_end
from tests.integration.drift_detection.test_windows_to_reports import PER_WINDOW, WINDOW_S, _calls, _reports
from tests.integration.feedback.conftest import SERVICE_KEY, chdb_client, warehouse_api, warehouse_database
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.drift_detection.outcomes_data import scored, thumbs

__all__ = ["chdb_client", "warehouse_api", "warehouse_database"]

pytestmark = pytest.mark.integration

SCORE = "score:relevance@1/relevance"
GRACE_S = 60.0


@pytest.fixture
async def reader(warehouse_api: str) -> AsyncIterator[WarehouseReader]:
    history = WarehouseReader(PlatformClient("warehouse", warehouse_api, SERVICE_KEY, timeout_s=10))
    await history.start()
    yield history
    await history.stop()


def _outcomes(tenant: str, calls: list[Any], base: float, up_share: float) -> list[StoredEvent]:
    """Scores of every call around ``base``, and thumbs on every other call, ``up_share`` of them up."""
    events: list[StoredEvent] = []
    for i, event in enumerate(calls):
        started = event.data.started_at
        data = scored(event.data.call_id, base + (i % 10) / 50, started + timedelta(seconds=2))
        score = CloudEvent.wrap(EvaluationScored.model_validate(data), source="/tests", tenant_id=tenant)
        events.append(StoredEvent.of("evaluation_scores", score.model_copy(update={"time": started}), tenant))
        if i % 2 == 0:
            given = started + timedelta(seconds=30)
            up = (i // 2) % 10 < up_share * 10
            payload = FeedbackReceived.model_validate(thumbs(event.data.call_id, up, given))
            feedback = CloudEvent.wrap(payload, source="/tests", tenant_id=tenant)
            events.append(StoredEvent.of("feedback", feedback.model_copy(update={"time": given}), tenant))
    return events


async def _two_windows(
    kafka_bootstrap: str, tenant: str, references: References, calls: list[Any], start: datetime
) -> list[Any]:
    """The worker folds ``calls`` (two windows from ``start``), then closes both: their reports, oldest first."""
    clock = ManualClock(start.timestamp() + 1)
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers=kafka_bootstrap, app_id=f"drift-detection-it-{uuid.uuid4().hex[:8]}", window_s=WINDOW_S,
        grace_s=GRACE_S, close_interval_s=0.2, min_samples=30,
    )  # fmt: skip
    await start_group_at_the_end(kafka_bootstrap, settings.app_id)
    producer = EventProducer(kafka_bootstrap, service="drift-it")
    await producer.start()
    stream = DriftStream(settings, out=producer, dead_letters=producer, references=references, clock=clock)
    await stream.start()
    try:
        await producer.publish_many(calls)

        async def folded() -> bool:
            return sum(window.calls for window in stream.open_windows(tenant, 10)) == len(calls)

        await wait_until(folded, "every call in its window", timeout_s=120)
        clock.now = start.timestamp() + 2 * WINDOW_S + GRACE_S + 60
        return sorted(await _reports(kafka_bootstrap, tenant, 2), key=lambda r: r.window.start)
    finally:
        await stream.stop()
        await producer.stop()


def _start() -> datetime:
    return datetime.fromtimestamp((datetime.now(UTC).timestamp() // WINDOW_S - 10) * WINDOW_S, UTC)


async def test_lower_scores_and_fewer_thumbs_up_are_reported_as_drift(
    kafka_bootstrap: str, reader: WarehouseReader, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    start = _start()
    first_calls = _calls(tenant, start, 1.0, "a")
    second_calls = _calls(tenant, start + timedelta(seconds=WINDOW_S), 1.0, "b")
    store = ClickHouseEventStore(chdb_client, warehouse_database)
    store.insert_events(_outcomes(tenant, first_calls, 0.7, 0.9) + _outcomes(tenant, second_calls, 0.4, 0.3))
    outcomes = Outcomes(reader, lag_s=GRACE_S, max_rows=1000, timeout_s=20)

    references = References("previous_window", 30, outcomes=outcomes)
    first, second = await _two_windows(kafka_bootstrap, tenant, references, [*first_calls, *second_calls], start)

    assert first.dataset_drift is None and second.dataset_drift is True
    features = {f.feature: f for f in second.features}
    assert {name for name, f in features.items() if f.drifted} == {SCORE, "feedback:thumbs_up"}
    assert features[SCORE].sample_size == features[SCORE].baseline_sample_size == PER_WINDOW
    assert features["feedback:thumbs_up"].sample_size == PER_WINDOW // 2
    coverage = f"on {PER_WINDOW} of {PER_WINDOW} calls in the window and {PER_WINDOW} of {PER_WINDOW} in the reference"
    assert features[SCORE].notes[0] == coverage


async def test_a_warehouse_that_is_down_does_not_hold_the_window_back(kafka_bootstrap: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    start = _start()
    down = WarehouseReader(PlatformClient("warehouse", "http://127.0.0.1:9", SERVICE_KEY, timeout_s=2, attempts=1))
    await down.start()
    outcomes = Outcomes(down, lag_s=GRACE_S, max_rows=1000, timeout_s=5)
    calls = [*_calls(tenant, start, 1.0, "a"), *_calls(tenant, start + timedelta(seconds=WINDOW_S), 2.0, "b")]
    try:
        references = References("previous_window", 30, outcomes=outcomes)
        first, second = await _two_windows(kafka_bootstrap, tenant, references, calls, start)
    finally:
        await down.stop()

    assert second.dataset_drift is True and {f.feature for f in second.features if f.drifted} == {"latency_ms"}
    for report in (first, second):
        unread = report.features[0]
        assert unread.feature == OUTCOMES_FEATURE and unread.drifted is None
        assert unread.notes[0].startswith("evaluation scores and feedback not read: the warehouse could not answer")
