"""Recording: off the request path, spooled when Kafka is down, replayed once it is back, never duplicated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaConnectionError
from llmops_inference.ports import CallContext
from llmops_inference.recording.recorder import CallRecorder
from llmops_inference.recording.records import CallDraft, to_recorded_messages
from llmops_inference.recording.spool import Spool
from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import calls as v1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import CallRecorded

from tests.unit.inference.support import Harness, chat


def draft(n: int, text: str = "hello", call_id: str | None = None) -> CallDraft:
    """A one-message chat call of ``acme``, started at second ``n`` of a minute, not ended yet."""
    context = CallContext(
        tenant_id="acme", key_id="k", app="bot", endpoint="chat", call_id=call_id or f"chatcmpl-{n:06d}"
    )
    return CallDraft(
        context=context,
        model="m",
        messages=to_recorded_messages([("user", text, None, None)]),
        started_at=datetime(2026, 3, 1, 12, 0, n % 60, tzinfo=UTC),
        source="/services/inference",
        environment="test",
    )


def event(n: int, text: str = "hello") -> CloudEvent[CallRecorded]:
    return draft(n, text).event()


def recorder(publisher: InMemoryPublisher, spool_dir: Path, **options: Any) -> CallRecorder:
    return CallRecorder(publisher, Spool(spool_dir), publish_timeout_s=0.5, replay_interval_s=0.02, **options)


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_event_ids_are_uuid7_and_stable_for_a_call() -> None:
    first, again = event(1), event(1)
    assert first.id == again.id and first.id[14] == "7"
    assert event(2).id != first.id
    assert first.data.call_id == "chatcmpl-000001" and first.subject == "chatcmpl-000001"


def test_a_huge_call_is_truncated_to_fit_one_kafka_record() -> None:
    big = event(3, text="é" * 900_000)
    assert len(big.to_json_bytes()) < MAX_RECORD_BYTES
    assert big.data.metadata["truncated"] == "true"
    assert big.data.messages[0].content.startswith("ééé")


async def test_recording_returns_at_once_and_publishes_in_the_background(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path)
    await rec.start()
    for n in range(50):
        rec.record(event(n))
    await rec.flush()
    assert [e.data.call_id for e in publisher.events] == [f"chatcmpl-{n:06d}" for n in range(50)]
    await rec.stop()
    assert rec.spool.pending == 0


class CountingPublisher(InMemoryPublisher):
    """The fake publisher, keeping the size of every batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    async def publish_encoded(self, events: Any) -> None:
        self.batches.append(len(events))
        await super().publish_encoded(events)


async def test_calls_recorded_within_the_linger_are_published_in_one_batch(tmp_path: Path) -> None:
    """One call at a time (a client at concurrency 1): without the linger each call is a batch of its own."""
    publisher = CountingPublisher()
    rec = recorder(publisher, tmp_path, linger_s=0.2)
    await rec.start()
    rec.record(event(0))
    await wait_until(lambda: rec._queue.qsize() == 0)  # the drain holds the first call and lingers
    for n in range(1, 5):
        rec.record(event(n))
        await asyncio.sleep(0)
    await rec.flush()
    assert publisher.batches == [5]
    assert [e.data.call_id for e in publisher.events] == [f"chatcmpl-{n:06d}" for n in range(5)]
    await rec.stop()


async def test_a_batch_that_fills_during_the_linger_is_published_without_waiting_it_out(tmp_path: Path) -> None:
    """Above a batch's rate the linger must not hold full batches back (or delay every call by the linger)."""
    publisher = CountingPublisher()
    rec = recorder(publisher, tmp_path, linger_s=60.0, batch_size=3)
    await rec.start()
    rec.record(event(0))
    await wait_until(lambda: rec._queue.qsize() == 0)  # the drain holds the first call and lingers
    rec.record(event(1))
    rec.record(event(2))
    await wait_until(lambda: publisher.batches == [3])
    rec.record(event(3))  # the next batch lingers again
    await wait_until(lambda: rec._queue.qsize() == 0)
    assert publisher.batches == [3]
    await rec.stop()
    assert publisher.batches == [3, 1]


async def test_a_call_held_by_the_linger_is_published_at_stop(tmp_path: Path) -> None:
    publisher = CountingPublisher()
    rec = recorder(publisher, tmp_path, linger_s=60.0)
    await rec.start()
    rec.record(event(7))
    await wait_until(lambda: rec._queue.qsize() == 0)
    await rec.stop()
    assert [e.data.call_id for e in publisher.events] == ["chatcmpl-000007"]
    assert rec.spool.pending == 0


async def test_kafka_down_spools_then_replays_once_back_without_duplicates(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    publisher.failure = KafkaConnectionError("broker down")
    rec = recorder(publisher, tmp_path)
    await rec.start()
    for n in range(10):
        rec.record(event(n))
    await rec.flush()
    assert publisher.events == [] and rec.kafka_up is False
    assert rec.spool.pending == 10
    assert list(tmp_path.glob("*.jsonl*"))  # on disk, fsync'd
    attempts = publisher.attempts
    for n in range(10, 15):  # while down, new events go straight to the spool (no publish attempt each)
        rec.record(event(n))
    await rec.flush()
    assert rec.spool.pending == 15
    publisher.failure = None
    # The spool empties in a worker thread; the replay marks Kafka up once it is back on the loop: wait for both.
    await wait_until(lambda: rec.spool.pending == 0 and rec.kafka_up)
    ids = [e.id for e in publisher.events]
    assert len(ids) == len(set(ids)) == 15
    assert {e.data.call_id for e in publisher.events} == {f"chatcmpl-{n:06d}" for n in range(15)}
    assert publisher.attempts > attempts
    assert list(tmp_path.glob("*.jsonl*")) == []
    rec.record(event(99))
    await rec.flush()
    assert publisher.events[-1].data.call_id == "chatcmpl-000099"
    await rec.stop()


async def test_a_full_buffer_spills_to_the_spool_instead_of_dropping(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, buffer_size=5)  # not started: nothing drains the buffer
    for n in range(12):
        rec.record(event(n))
    await wait_until(lambda: rec.spool.pending == 7)
    await rec.start()
    await wait_until(lambda: len(publisher.events) == 12)
    assert len({e.id for e in publisher.events}) == 12
    await rec.stop()


async def test_the_spool_survives_a_restart_and_is_replayed_by_the_next_process(tmp_path: Path) -> None:
    down = InMemoryPublisher()
    down.failure = KafkaConnectionError("down")
    first = recorder(down, tmp_path)
    await first.start()
    for n in range(4):
        first.record(event(n))
    await first.flush()
    await first.stop()
    assert Spool(tmp_path).pending == 4
    up = InMemoryPublisher()
    second = recorder(up, tmp_path)
    await second.start()
    await wait_until(lambda: len(up.events) == 4)
    await second.stop()
    assert Spool(tmp_path).pending == 0


async def test_stop_spools_what_could_not_be_published(tmp_path: Path) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path)
    publisher.failure = KafkaConnectionError("down")
    await rec.start()
    rec.record(event(1))
    await rec.stop()
    assert Spool(tmp_path).pending == 1


async def test_a_torn_last_line_is_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([event(1).to_json_bytes(), event(2).to_json_bytes()])
    (segment,) = spool.segments()
    with segment.open("ab") as handle:
        handle.write(b'{"specversion": "1.0", "id": "trunc')
    publisher = InMemoryPublisher()
    rec = CallRecorder(publisher, Spool(tmp_path))
    assert await rec.replay() is True
    assert [e.data.call_id for e in publisher.events] == ["chatcmpl-000001", "chatcmpl-000002"]


async def test_a_spool_written_before_the_upgrade_replays_as_v2(tmp_path: Path) -> None:
    """A gateway that recorded v1 left its spool behind (a persistent volume): the next one publishes it as v2."""
    old = CloudEvent.wrap(example(v1.CallRecorded), source="/services/inference", tenant_id="acme")
    Spool(tmp_path).append([old.to_json_bytes()])
    publisher = InMemoryPublisher()
    assert await CallRecorder(publisher, Spool(tmp_path)).replay() is True
    (replayed,) = publisher.events
    assert (replayed.id, replayed.type) == (old.id, CallRecorded.event_type)
    assert replayed.data == CallRecorded.from_v1(old.data)


async def test_the_gateway_keeps_serving_while_kafka_is_down(gw: Harness, auth: dict[str, str]) -> None:
    gw.publisher.failure = KafkaConnectionError("broker down")
    for _ in range(3):
        response = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
        assert response.status_code == 200
    await gw.wiring.recorder.flush()
    ready = (await gw.client.get("/readyz", headers=auth)).json()
    assert ready["ready"] is True
    assert ready["recording"] == {"kafka": False, "spooled": 3}
    metrics = (await gw.client.get("/metrics")).text
    assert "llmops_inference_events_spooled_total" in metrics
    assert "llmops_inference_events_unpublished_total" in metrics
    gw.publisher.failure = None
    await wait_until(lambda: gw.wiring.recorder.spool.pending == 0)
    assert len(gw.publisher.events) == 3
    assert (await gw.client.get("/readyz", headers=auth)).json()["recording"] == {"kafka": True, "spooled": 0}
