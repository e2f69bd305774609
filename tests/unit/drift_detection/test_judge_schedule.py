"""Judge monitors across replicas and restarts (docs/adr/0058), with the injected clock: the schedule published
on the monitor, so a restarted replica checks nothing before it is due and waits for the run in flight rather than
start another; each monitor checked by the owner of its partition only, a revoked check stopped and taken up by
the new owner on the same run; a check asked for on another replica started by the owner."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from llmops_drift_detection.judges import JudgeScheduler
from llmops_drift_detection.judges.owners import MonitorOwners
from llmops_kit.kafka.ownership import PartitionOwnership
from llmops_schemas.v1 import JudgeMonitorConfigured

from tests.unit.drift_detection.judge_support import TENANT, Harness
from tests.unit.drift_detection.test_judge_drift import h, noisy

__all__ = ["h"]  # the fixture, by name


class Owned:
    """The kit's partition ownership as a test sets it: the monitors' keys owned here."""

    def __init__(self, *monitor_ids: str) -> None:
        self.keys = {f"{TENANT}:{m}".encode() for m in monitor_ids}
        self.on_record: Any = None
        self.before_revoke: Any = None

    def owns_key(self, key: bytes) -> bool:
        return key in self.keys


class Replica:
    """A second (or restarted) scheduler over the same topic (store, publisher) and evaluation service."""

    def __init__(self, h: Harness, owned: Owned | None = None) -> None:
        self.h, self.owned, self.read = h, owned, 0
        self.owners = MonitorOwners(cast(PartitionOwnership, owned)) if owned is not None else None
        self.scheduler = JudgeScheduler(h.registry, h.client, h.publisher, h.settings, source="/tests",
                                        owners=self.owners, clock=h.clock, sleep=h.clock.sleep)  # fmt: skip

    def sync(self) -> None:
        """What the ownership's consumer read of the topic since the last sync, in order."""
        records = [p for p in self.h.publisher.published if p.topic == JudgeMonitorConfigured.topic]
        for record in records[self.read :]:
            if self.owners is not None:
                self.owners.record(record.key, record.value)
        self.read = len(records)

    async def tick(self) -> list[Any]:
        self.sync()
        return [await task for task in self.scheduler.tick()]


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_the_schedule_is_on_the_monitor_so_a_restart_checks_nothing_before_it_is_due(h: Harness) -> None:
    await h.monitor()
    started = h.clock.now
    [baseline] = await h.tick()
    assert "baseline" in (baseline.reason or "")
    assert h.monitor_state().next_check_at == started + timedelta(seconds=3600)
    assert h.monitor_state().run_in_flight is None

    restarted = Replica(h)  # the same topic, a new process's memory
    assert await restarted.tick() == []
    h.clock.advance(3599)
    assert await restarted.tick() == []
    h.clock.advance(1)
    [report] = await restarted.tick()
    assert report.dataset_drift is not None and len(h.fake.started) == 2


async def test_a_restart_waits_for_the_run_in_flight_at_once_instead_of_starting_another(h: Harness) -> None:
    h.fake.score = noisy(4.0, shift=-1.0)
    await h.monitor(baseline_run_id="run-0")
    h.fake.hold = True
    [slow] = await h.tick()  # the run outlived the check's wait: it stays the monitor's run
    assert "did not finish" in (slow.reason or "") and h.monitor_state().run_in_flight == "run-1"
    h.fake.hold = False

    [resumed] = await Replica(h).tick()  # at once, not an interval later

    assert resumed.judge is not None and resumed.judge.run_id == "run-1" and len(h.fake.started) == 1
    assert h.monitor_state().run_in_flight is None


async def test_each_monitor_is_checked_by_the_owner_of_its_partition_only(h: Harness) -> None:
    await h.monitor("one")
    await h.monitor("two")
    one, two = Owned("one"), Owned("two")
    first, second = Replica(h, one), Replica(h, two)

    reports = [*(await first.tick()), *(await second.tick()), *(await first.tick()), *(await second.tick())]

    assert sorted(r.judge.monitor_id for r in reports if r.judge) == ["one", "two"]
    assert len(h.fake.started) == 2  # one run per monitor, not one per replica

    one.keys, two.keys = set(), one.keys | two.keys  # "one" moves to the second replica
    await first.scheduler.revoked()
    assert await second.tick() == []  # its schedule came with it: not due
    h.clock.advance(3600)
    assert sorted(r.judge.monitor_id for r in await second.tick() if r.judge) == ["one", "two"]
    assert await first.tick() == [] and len(h.fake.started) == 4


async def test_a_revoked_check_stops_and_the_new_owner_waits_for_the_same_run(h: Harness) -> None:
    h.fake.score = noisy(4.0, shift=-1.0)
    await h.monitor(baseline_run_id="run-0")
    held, free = Owned("support-judge"), Owned()
    old, new = Replica(h, held), Replica(h, free)
    h.fake.hold = True
    old.sync()
    [running] = old.scheduler.tick()
    await _until(lambda: h.monitor_state().run_in_flight == "run-1")  # started, and published on the monitor

    held.keys, free.keys = set(), held.keys
    await old.scheduler.revoked()
    h.fake.hold = False
    [report] = await new.tick()

    assert running.cancelled()
    assert report.judge is not None and report.judge.run_id == "run-1"
    assert len(h.fake.started) == 1


async def test_a_check_asked_for_on_another_replica_is_started_by_the_owner(h: Harness) -> None:
    await h.monitor()
    owner, other = Replica(h, Owned("support-judge")), Replica(h, Owned())
    [_] = await owner.tick()  # the baseline; the next check is an hour away
    assert await owner.tick() == []
    assert not other.scheduler.owns(TENANT, "support-judge")

    h.clock.advance(60)
    await h.registry.request_check(TENANT, h.monitor_state(), h.clock())  # what the other replica's route does

    [report] = await owner.tick()
    assert report.judge is not None and len(h.fake.started) == 2
    assert await owner.tick() == []  # and an hour from now again, not at every tick
    assert h.monitor_state().next_check_at == h.clock.now + timedelta(seconds=3600)


async def test_kafka_down_keeps_the_schedule_in_memory(h: Harness) -> None:
    await h.monitor()
    h.publisher.failure = ConnectionError("broker down")
    assert len(await h.tick()) == 1
    h.publisher.failure = None
    assert await h.tick() == [] and h.monitor_state().next_check_at is None  # not checked again at every tick


async def test_a_tick_between_a_revocation_and_its_callback_stops_the_check_there(h: Harness) -> None:
    await h.monitor(baseline_run_id="run-0")
    held = Owned("support-judge")
    old = Replica(h, held)
    h.fake.hold = True
    old.sync()
    [running] = old.scheduler.tick()
    await _until(lambda: h.monitor_state().run_in_flight == "run-1")

    held.keys = set()  # the partition is revoked; the callback has not run yet
    assert old.scheduler.tick() == []
    await asyncio.gather(running, return_exceptions=True)

    assert running.cancelled() and h.monitor_state().run_in_flight == "run-1"  # for the next owner
