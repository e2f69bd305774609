"""Scores and feedback in drift reports: the worker on the session broker, the warehouse's real query API on chDB.

Two windows of one scope with the same traffic; the second's calls were scored lower by an evaluator and given
fewer thumbs up. At each close the worker reads the window's scores and feedback through the kit's
WarehouseReader (a service key naming the tenant) and joins them by call id: the second report drifts on the
score and the thumbs-up feature only, and the reference it was checked against (the first window) had them too.
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
from llmops_drift_detection.stream import DriftStream
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas import CloudEvent
from llmops_schemas.v2 import EvaluationScored, FeedbackReceived
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.events import StoredEvent

from tests.integration.drift_detection.groups import start_group_at_the_end
from tests.integration.drift_detection.test_windows_to_reports import PER_WINDOW, WINDOW_S, Clock, _calls, _reports
from tests.integration.feedback.conftest import SERVICE_KEY, chdb_client, warehouse_api, warehouse_database
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.drift_detection.outcomes_data import scored, thumbs

__all__ = ["chdb_client", "warehouse_api", "warehouse_database"]

pytestmark = pytest.mark.integration

SCORE = "score:relevance@1/relevance"


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


async def test_lower_scores_and_fewer_thumbs_up_are_reported_as_drift(
    kafka_bootstrap: str, reader: WarehouseReader, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    start = datetime.fromtimestamp((datetime.now(UTC).timestamp() // WINDOW_S - 10) * WINDOW_S, UTC)
    later = start + timedelta(seconds=WINDOW_S)
    first_calls, second_calls = _calls(tenant, start, 1.0, "a"), _calls(tenant, later, 1.0, "b")
    store = ClickHouseEventStore(chdb_client, warehouse_database)
    store.insert_events(_outcomes(tenant, first_calls, 0.7, 0.9) + _outcomes(tenant, second_calls, 0.4, 0.3))
    clock = Clock(start.timestamp() + 1)
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers=kafka_bootstrap, app_id=f"drift-detection-it-{uuid.uuid4().hex[:8]}", window_s=WINDOW_S,
        grace_s=60, close_interval_s=0.2, min_samples=30,
    )  # fmt: skip
    await start_group_at_the_end(kafka_bootstrap, settings.app_id)
    outcomes = Outcomes(reader, lag_s=settings.grace_s, max_rows=1000, timeout_s=20)
    references = References("previous_window", 30, outcomes=outcomes)
    producer = EventProducer(kafka_bootstrap, service="drift-it")
    await producer.start()
    stream = DriftStream(settings, out=producer, dead_letters=producer, references=references, clock=clock)
    await stream.start()
    try:
        await producer.publish_many([*first_calls, *second_calls])

        async def folded() -> bool:
            return (
                len(stream.open_windows(tenant, 10)) == 2
                and sum(w.calls for w in stream.open_windows(tenant, 10)) == 2 * PER_WINDOW
            )

        await wait_until(folded, "every call in its window", timeout_s=120)
        clock.now = later.timestamp() + WINDOW_S + 120
        first, second = sorted(await _reports(kafka_bootstrap, tenant, 2), key=lambda r: r.window.start)
    finally:
        await stream.stop()
        await producer.stop()
    assert first.dataset_drift is None and second.dataset_drift is True
    features = {f.feature: f for f in second.features}
    assert {name for name, f in features.items() if f.drifted} == {SCORE, "feedback:thumbs_up"}
    assert features[SCORE].sample_size == features[SCORE].baseline_sample_size == PER_WINDOW
    assert features["feedback:thumbs_up"].sample_size == PER_WINDOW // 2
    assert (
        features[SCORE].notes[0]
        == f"on {PER_WINDOW} of {PER_WINDOW} calls in the window and {PER_WINDOW} of {PER_WINDOW} in the reference"
    )
