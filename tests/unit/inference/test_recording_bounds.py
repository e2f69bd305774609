"""Recording is bounded: a full spool and a full in-memory overflow refuse events (counted, logged without the
prompt) instead of growing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError
from llmops_inference.recording.spool import Spool, SpoolFull
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded
from prometheus_client import REGISTRY

from tests.unit.inference.test_recording import event, recorder

SECRET = "prompt-marker-7f3a"
"""Planted in every prompt: it must never reach a log line."""


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("llmops_inference_events_refused_total", {"reason": reason}) or 0.0


def test_a_full_spool_refuses_a_batch_whole_and_takes_events_again_once_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=3)
    spool.append([event(1).to_json_bytes(), event(2).to_json_bytes()])
    with pytest.raises(SpoolFull, match="exceed its bounds of 3 events"):
        spool.append([event(3).to_json_bytes(), event(4).to_json_bytes()])
    (segment,) = spool.segments()
    assert spool.pending == 2 and len(spool.read(segment)) == 2, "nothing of the refused batch was written"
    spool.remove(segment, 2)
    spool.append([event(3).to_json_bytes(), event(4).to_json_bytes()])
    assert spool.pending == 2


def test_the_spool_is_bounded_in_bytes_across_restarts(tmp_path: Path) -> None:
    line = event(1).to_json_bytes()
    spool = Spool(tmp_path, max_bytes=3 * (len(line) + 1))
    spool.append([line, line])
    assert spool.size_bytes == 2 * (len(line) + 1)
    restarted = Spool(tmp_path, max_bytes=3 * (len(line) + 1))  # counts what the last process left
    assert restarted.size_bytes == spool.size_bytes
    restarted.append([line])
    with pytest.raises(SpoolFull, match="bytes"):
        restarted.append([line])


async def test_kafka_down_and_the_spool_full_refuses_counts_and_logs_ids_not_prompts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = InMemoryPublisher()
    down.failure = KafkaConnectionError("broker down")
    rec = recorder(down, tmp_path, batch_size=1)
    rec.spool = Spool(tmp_path, max_events=5)
    before = refused("spool_full")
    await rec.start()
    with caplog.at_level(logging.ERROR, logger="llmops_inference.recording.recorder"):
        for n in range(12):
            rec.record(event(n, text=SECRET))
        await rec.flush()
    await rec.stop()
    assert rec.spool.pending == 5 and Spool(tmp_path).pending == 5, "the spool did not grow past its bound"
    assert refused("spool_full") - before == 7
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and event(5).id in refusals[0], "the first refusal is logged with the event ids"
    assert not any(SECRET in r.getMessage() for r in caplog.records)


async def test_a_full_overflow_refuses_instead_of_growing_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = InMemoryPublisher()
    rec = recorder(publisher, tmp_path, buffer_size=2, overflow_events=3)  # not started: nothing drains
    before = refused("overflow_full")
    with caplog.at_level(logging.ERROR, logger="llmops_inference.recording.recorder"):
        for n in range(10):  # no await in between: the spill task cannot run, the overflow only fills
            rec.record(event(n, text=SECRET))
    assert refused("overflow_full") - before == 5
    assert not any(SECRET in r.getMessage() for r in caplog.records)
    await rec.start()
    await rec.flush()
    await rec.stop()
    spool = Spool(tmp_path)
    spooled = [
        CloudEvent[CallRecorded].model_validate_json(line).id for s in spool.segments() for line in spool.read(s)
    ]
    assert {e.id for e in publisher.events} | set(spooled) == {event(n).id for n in range(5)}
