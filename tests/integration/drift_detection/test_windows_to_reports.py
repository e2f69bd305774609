"""drift-detection on the session broker: recorded calls in, windows closed, a drift report out.

The faust worker runs in process with a clock the test moves (the windows are in event time, their closing on
the clock): two windows of one scope, the second with every latency doubled, then the clock past both. The
first window has no reference (a report without a verdict, saying so), the second is checked against the
first and drifts on latency; the warehouse's decoder takes each report (a UUID id). A poison record on the
calls topic lands in its DLQ with the cause, and a platform call is not counted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.references import References
from llmops_drift_detection.stream import DriftStream
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import dlq_topic
from llmops_schemas.registry import parse_event
from llmops_schemas.v2 import CallRecorded, DriftReported
from llmops_warehouse.entrypoints.consumer import Router
from llmops_warehouse.tables import TABLES

from tests.fixtures.clocks import ManualClock
from tests.integration.drift_detection.groups import start_group_at_the_end
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.evaluation.calls import call

pytestmark = pytest.mark.integration

WINDOW_S = 600.0
PER_WINDOW = 120


def _calls(tenant: str, start: datetime, slow: float, prefix: str) -> list[Any]:
    return [
        call(tenant, call_id=f"{prefix}-{i}", started_at=start + timedelta(seconds=i * WINDOW_S / PER_WINDOW / 2),
             latency_ms=slow * (200.0 + (i * 37) % 100), usage={"prompt_tokens": 20 + i % 7, "completion_tokens": 9,
             "total_tokens": 29 + i % 7})
        for i in range(PER_WINDOW)
    ]  # fmt: skip


async def _reports(bootstrap: str, tenant: str, count: int) -> list[DriftReported]:
    consumer = AIOKafkaConsumer(
        DriftReported.topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[DriftReported] = []
    warehouse = Router(tables=tuple(TABLES), compacted=frozenset())
    try:

        async def enough() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                mine = [r for r in records if r.key == tenant.encode()]
                for r in mine:  # the warehouse stores it (it dead-letters a report whose id is not a UUID)
                    warehouse.decode(ConsumedMessage(r.topic, r.partition, r.offset, r.key, r.value, (), r.timestamp))
                found.extend(parse_event(r.value).data for r in mine)
            return len(found) >= count

        await wait_until(enough, f"{count} drift reports", timeout_s=120)
        return found
    finally:
        await consumer.stop()


async def _dead_letters(bootstrap: str, marker: bytes) -> dict[str, bytes]:
    topic = dlq_topic(CallRecorded.topic)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    headers: dict[str, bytes] = {}
    try:

        async def found() -> bool:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    if r.value == marker:
                        headers.update(dict(r.headers))
            return bool(headers)

        await wait_until(found, "the poison record's dead letter", timeout_s=60)
        return headers
    finally:
        await consumer.stop()


async def test_a_shifted_window_is_reported_as_drift(kafka_bootstrap: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    start = datetime.fromtimestamp((datetime.now(UTC).timestamp() // WINDOW_S - 10) * WINDOW_S, UTC)
    clock = ManualClock(start.timestamp() + 1)
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers=kafka_bootstrap, app_id=f"drift-detection-it-{uuid.uuid4().hex[:8]}", window_s=WINDOW_S,
        grace_s=5, close_interval_s=0.2, min_samples=30,
    )  # fmt: skip
    await start_group_at_the_end(kafka_bootstrap, settings.app_id)  # not the session's earlier calls
    producer = EventProducer(kafka_bootstrap, service="drift-it")
    await producer.start()
    stream = DriftStream(
        settings, out=producer, dead_letters=producer, references=References("previous_window", 30), clock=clock
    )
    await stream.start()
    try:
        marker = f"not a call {tenant}".encode()
        await producer.send_many([(CallRecorded.topic, tenant.encode(), marker, [])])
        platform = call(tenant, call_id="judge-1", started_at=start, origin="platform")
        later = start + timedelta(seconds=WINDOW_S)
        await producer.publish_many([platform, *_calls(tenant, start, 1.0, "a"), *_calls(tenant, later, 2.0, "b")])
        await wait_until(lambda: _entries(stream, tenant, 2 * PER_WINDOW), "every call in its window", timeout_s=120)
        clock.now = later.timestamp() + WINDOW_S + 10
        first, second = sorted(await _reports(kafka_bootstrap, tenant, 2), key=lambda r: r.window.start)
        headers = await _dead_letters(kafka_bootstrap, marker)
    finally:
        await stream.stop()
        await producer.stop()
    assert first.dataset_drift is None and first.reason and "no reference" in first.reason
    assert first.sample_size == PER_WINDOW  # the platform call is not counted
    assert second.dataset_drift is True and second.reference.kind == "previous_window"
    assert second.reference.window == first.window
    assert second.sample_size == PER_WINDOW and second.baseline_sample_size == PER_WINDOW
    drifted = {f.feature for f in second.features if f.drifted}
    assert drifted == {"latency_ms"}
    assert headers["dlq.source_topic"] == CallRecorded.topic.encode() and b"not valid JSON" in headers["dlq.error"]


async def _entries(stream: DriftStream, tenant: str, count: int) -> bool:
    """Whether ``tenant``'s calls are all in the windows table (which also holds other tests' recovered windows)."""
    return stream.entries.calls_held({tenant}) >= count
