"""Judge monitors on two replicas and a restart, on the session broker (docs/adr/0058).

Two replicas of the judge-drift runtime in process, each as the service wires it: its own materialised store of
``llmops.drift.judges``, its own member of the checking consumer group (the kit's partition ownership), its own
scheduler ticking on the real clock, all on the real broker; the evaluation service is the fake held to the real
routes by the contract suite (tests/unit/kit/evaluation_contract.py), shared, so the runs it was asked to start
are counted across both. Six monitors spread over the topic's three partitions: each one's run is started once,
not once per replica; then one replica stops and a new one takes its place (a restart and two rebalances), and no
monitor is checked again, their next check being an hour away on their records.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from llmops_drift_detection.judges import JudgeScheduler, JudgeSettings, MonitorRegistry, MonitorStore
from llmops_drift_detection.judges.owners import MonitorOwners
from llmops_kit.audit import Actor
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.ownership import PartitionOwnership, partition_of
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import EvaluationClient, PlatformClient

from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.drift_detection.judge_support import spec
from tests.unit.kit.fake_evaluation import FakeEvaluation

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PARTITIONS = 3
TENANT = f"it-judges-{uuid.uuid4().hex[:8]}"


@dataclass
class Replica:
    scheduler: JudgeScheduler
    ownership: PartitionOwnership
    store: MonitorStore
    ticks: int = 0


def _monitor_ids() -> list[str]:
    """Two monitors per partition of ``llmops.drift.judges``, so both replicas own some."""
    ids: list[str] = []
    per = Counter[int]()
    for n in range(1000):
        monitor_id = f"judge-{n}"
        partition = partition_of(f"{TENANT}:{monitor_id}".encode(), PARTITIONS)
        if per[partition] < 2:
            per[partition] += 1
            ids.append(monitor_id)
        if len(ids) == 2 * PARTITIONS:
            return ids
    raise AssertionError("no spread of monitor ids")


@asynccontextmanager
async def replica(bootstrap: str, group: str, fake: FakeEvaluation) -> AsyncIterator[Replica]:
    """One replica's judge runtime, as judges/wiring.py builds it, started and stopped with its components."""
    store = MonitorStore()
    materializer = CompactedTopicMaterializer(bootstrap_servers=bootstrap, topic=store.topic, view=store,
                                              client_id="it-judges")  # fmt: skip
    ownership = PartitionOwnership(bootstrap, topic=store.topic, group_id=group, client_id="it-judge-owner")
    producer = EventProducer(bootstrap, service="drift-it")
    registry = MonitorRegistry(store, producer, source="/services/drift-detection", max_per_tenant=20)
    client = EvaluationClient(PlatformClient("evaluation", "http://evaluation", "svc-key", attempts=1,
                                             transport=fake.transport()))  # fmt: skip
    settings = JudgeSettings(tick_s=0.2, poll_s=0.1, run_timeout_s=30)
    holder: list[Replica] = []

    async def counted_sleep(seconds: float) -> None:
        if holder:
            holder[0].ticks += 1
        await asyncio.sleep(seconds)

    scheduler = JudgeScheduler(registry, client, producer, settings, source="/services/drift-detection",
                               owners=MonitorOwners(ownership), sleep=counted_sleep)  # fmt: skip
    holder.append(Replica(scheduler, ownership, store))
    components: list[Any] = [producer, materializer, client, ownership, scheduler]
    async with AsyncExitStack() as stack:
        for component in components:
            await component.start()
            stack.push_async_callback(component.stop)
        yield holder[0]


async def _owning(replicas: list[Replica]) -> None:
    """Until the replicas own every partition between them, each some, and each ticked since."""

    async def split() -> bool:
        owned = [r.ownership.owned for r in replicas]
        return all(owned) and set().union(*owned) == set(range(PARTITIONS))

    await wait_until(split, "the partitions split between the replicas", timeout_s=120)
    marks = [r.ticks for r in replicas]

    async def ticked() -> bool:
        return all(r.ticks >= mark + 3 for r, mark in zip(replicas, marks, strict=True))

    await wait_until(ticked, "three ticks of each replica since", timeout_s=60)


async def test_each_monitor_is_checked_once_by_two_replicas_and_not_again_after_a_restart(
    kafka_bootstrap: str,
) -> None:
    fake = FakeEvaluation()
    ids = _monitor_ids()
    for monitor_id in ids:  # a dataset per monitor: the runs started say which monitor asked
        fake.seed(TENANT, f"anchors-{monitor_id}", [f"item-{n:02d}" for n in range(12)])
    group = f"drift-detection-judges-it-{uuid.uuid4().hex[:8]}"
    async with replica(kafka_bootstrap, group, fake) as first, replica(kafka_bootstrap, group, fake) as second:
        await _owning([first, second])
        writer = MonitorRegistry(first.store, first.scheduler.out, source="/tests", max_per_tenant=20)
        for monitor_id in ids:
            await writer.put(TENANT, monitor_id, spec(dataset=f"anchors-{monitor_id}"), Actor(key_id="it-admin"))

        async def all_checked() -> bool:
            return len(fake.started) >= len(ids)

        await wait_until(all_checked, "a run per monitor", timeout_s=120)
        await _owning([first, second])  # more ticks of both: nothing started twice

        async with replica(kafka_bootstrap, group, fake) as restarted:
            await first_stops(first)
            await _owning([second, restarted])

    runs = Counter(started["dataset"] for started in fake.started)
    assert runs == {f"anchors-{monitor_id}": 1 for monitor_id in ids}


async def first_stops(first: Replica) -> None:
    """The first replica leaves the group (its components stopped, as at a rolling restart)."""
    await first.scheduler.stop()
    await first.ownership.stop()
