"""The recovery watch: a table recovery that reads nothing for ``stall_s`` makes the worker not alive."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from faust.tables.recovery import Recovery
from faust.types import TP
from llmops_drift_detection.bootstrap import _kafka_runtime
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.recovery_watch import RecoveryWatch
from llmops_drift_detection.stream import DriftStream
from llmops_kit.kafka.producer import EventProducer

from tests.fixtures.clocks import ManualClock


@dataclass
class FakeRecovery:
    in_recovery: bool = False
    left: int = 0

    def active_remaining_total(self) -> int:
        return self.left


@pytest.fixture
def recovery() -> FakeRecovery:
    return FakeRecovery()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
def watch(recovery: FakeRecovery, clock: ManualClock) -> RecoveryWatch:
    return RecoveryWatch(lambda: recovery, stall_s=300, clock=clock)


def test_a_recovery_that_reads_nothing_for_the_stall_time_is_stuck_and_logged_once(
    watch: RecoveryWatch, recovery: FakeRecovery, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    recovery.in_recovery, recovery.left = True, 40
    assert watch.stuck() is None
    clock.now += 299
    assert watch.stuck() is None
    clock.now += 1
    with caplog.at_level(logging.ERROR, logger="llmops_drift_detection.recovery_watch"):
        first, again = watch.stuck(), watch.stuck()

    assert first == again == "table recovery has read none of its 40 remaining changelog records for 300 s"
    assert len(caplog.records) == 1


def test_a_recovery_that_reads_however_slowly_is_never_stuck(
    watch: RecoveryWatch, recovery: FakeRecovery, clock: ManualClock
) -> None:
    recovery.in_recovery, recovery.left = True, 1_000
    verdicts = []
    for _ in range(20):
        verdicts.append(watch.stuck())
        clock.now += 200
        recovery.left -= 1

    assert verdicts == [None] * 20


def test_a_worker_out_of_recovery_is_alive_and_a_new_recovery_starts_its_own_clock(
    watch: RecoveryWatch, recovery: FakeRecovery, clock: ManualClock
) -> None:
    recovery.in_recovery, recovery.left = True, 5
    watch.stuck()
    clock.now += 400
    assert watch.stuck() is not None
    recovery.in_recovery = False
    assert watch.stuck() is None  # done: the records left no longer count
    recovery.in_recovery = True  # the next assignment's recovery, with as many records left by chance
    assert watch.stuck() is None
    clock.now += 299
    assert watch.stuck() is None


def test_nothing_left_to_read_is_never_stuck(watch: RecoveryWatch, recovery: FakeRecovery, clock: ManualClock) -> None:
    recovery.in_recovery, recovery.left = True, 0
    watch.stuck()
    clock.now += 10_000

    assert watch.stuck() is None


def test_faust_s_recovery_has_what_the_watch_reads() -> None:
    assert Recovery.in_recovery is False  # a class attribute, set per recovery
    assert list(inspect.signature(Recovery.active_remaining_total).parameters) == ["self"]


async def test_the_service_reports_its_worker_s_recovery_as_liveness(tmp_path: Path) -> None:
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers="127.0.0.1:1", data_dir=tmp_path, ensure_topics=False, recovery_stall_s=10
    )
    runtime = await _kafka_runtime(FastAPI(), settings)  # builds clients, connects nothing
    stream = next(c for c in runtime.components if isinstance(c, DriftStream))
    recovery = stream.app.tables.recovery  # type: ignore[attr-defined]

    assert runtime.liveness is not None and runtime.liveness() is None
    recovery.in_recovery, stream.recovery_watch.stall_s = True, 0  # faust's own object, as faust sets it
    recovery.active_highwaters[TP("llmops.drift.windows", 4)] = 9
    recovery.active_offsets[TP("llmops.drift.windows", 4)] = 2
    runtime.liveness()
    stuck = runtime.liveness()
    for producer in (c for c in runtime.components if isinstance(c, EventProducer)):
        await producer.stop()  # never started: only closes the client the constructor made

    assert stuck == "table recovery has read none of its 7 remaining changelog records for 0 s"
