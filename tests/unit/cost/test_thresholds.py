"""Threshold events: decided by the replica owning the tenant's partition, once, and handed over on a rebalance.

Two replicas here are two notifiers over their own ledgers (each counts every cost event, as in production) and
one in-memory topic; ownership is set as the consumer group would (the group itself runs in the integration
test, tests/integration/cost/test_thresholds_replicas.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from llmops_cost.thresholds import Ownership, ThresholdNotifier, partition_of, state_event_id
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import BudgetStateChanged

from tests.unit.cost.conftest import NOW, ledger_with_budget

PARTITIONS = 3
ACME = partition_of("acme", PARTITIONS)


def _cost(i: int, amount: str) -> SimpleNamespace:
    return SimpleNamespace(call_id=f"c{i}", cost=Decimal(amount), app="chat", model="m", key_id=None, user_id=None,
                           call_started_at=datetime.now(UTC))  # fmt: skip


class Replica:
    """One replica's ledger, ownership (set by hand) and notifier, publishing to ``topic``."""

    def __init__(self, topic: InMemoryPublisher, owned: set[int]) -> None:
        self.ledger = ledger_with_budget()
        self.owner = Ownership("127.0.0.1:1", group_id="unit")
        self.owner.partitions, self.owner.owned = PARTITIONS, owned
        self.notifier = ThresholdNotifier(
            topic, self.owner, self.ledger, _ready, source="/services/cost", clock=lambda: NOW
        )

    def count(self, i: int, amount: str) -> None:
        self.notifier.crossed(self.ledger.record("acme", f"e{i}", _cost(i, amount)))


async def _ready() -> None:
    return None


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


def thresholds(topic: InMemoryPublisher) -> list[float | None]:
    return [e.threshold for e in topic.of(BudgetStateChanged)]


async def test_each_threshold_event_is_published_once_and_not_again_when_already_sent() -> None:
    topic = InMemoryPublisher()
    replica = Replica(topic, {ACME})
    crossings = [c for i in range(6) for c in replica.ledger.record("acme", f"e{i}", _cost(i, "0.2"))]
    already = replica.notifier.event(crossings[0]).id  # the 50 % event made it before a crash
    replica.owner.ids.add(already)
    replica.notifier.crossed(crossings)
    await replica.notifier.start()
    try:
        await _until(lambda: replica.notifier.published == 2)
    finally:
        await replica.notifier.stop()
    assert thresholds(topic) == [0.8, 1.0]
    assert [r.event.id for r in topic.published] == [replica.notifier.event(c).id for c in crossings[1:]]
    assert already == state_event_id("acme", "b1", crossings[0].period_start, "threshold_crossed", 0.5)


async def test_two_replicas_see_every_crossing_and_only_the_owner_publishes_it_then_the_next_owner() -> None:
    topic = InMemoryPublisher()
    owner, other = Replica(topic, {ACME}), Replica(topic, set())
    for replica in (other, owner):
        await replica.notifier.start()
    try:
        for i in range(3):  # 0.6 of the limit: the 50 % threshold, seen by both
            owner.count(i, "0.2")
            other.count(i, "0.2")
        await _until(lambda: owner.notifier.published == 1)
        # A rebalance: the owner lets go (nothing in flight), the other reads the partition, then owns it.
        await owner.owner.on_partitions_revoked([TopicPartition(BudgetStateChanged.topic, ACME)])
        owner.count(3, "0.2")  # 80 % while the partition moves: the old owner no longer decides
        other.count(3, "0.2")
        other.owner.ids |= {r.event.id for r in topic.published}  # what syncing the partition read
        other.owner.owned.add(ACME)
        other.notifier.took_over(ACME)  # 80 %, seen while not owning, is decided now
        await _until(lambda: other.notifier.published == 1)
        owner.count(4, "0.2")
        other.count(4, "0.2")
        await _until(lambda: other.notifier.published == 2)
    finally:
        for replica in (owner, other):
            await replica.notifier.stop()
    assert thresholds(topic) == [0.5, 0.8, 1.0]
    assert len({r.event.id for r in topic.published}) == 3


class HeldPublisher(InMemoryPublisher):
    """A publisher whose acknowledgement waits for ``release``."""

    def __init__(self) -> None:
        super().__init__()
        self.sending, self.release = asyncio.Event(), asyncio.Event()

    async def publish_many(self, events: Any, *, topic: str | None = None) -> None:
        self.sending.set()
        await self.release.wait()
        await super().publish_many(events, topic=topic)


async def _returned(awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.ensure_future(awaitable)
    await asyncio.sleep(0.05)
    return task


async def test_a_revocation_waits_for_the_publish_in_flight_so_the_next_owner_reads_it() -> None:
    topic = HeldPublisher()
    replica = Replica(topic, {ACME})
    await replica.notifier.start()
    try:
        replica.count(0, "0.6")
        await asyncio.wait_for(topic.sending.wait(), 5)
        revoking = await _returned(replica.owner.on_partitions_revoked([TopicPartition("t", ACME)]))
        assert not revoking.done()  # the partition does not move while its event is in flight
        topic.release.set()
        await asyncio.wait_for(revoking, 5)
    finally:
        await replica.notifier.stop()
    assert thresholds(topic) == [0.5] and replica.owner.owned == set()


async def test_the_ledger_gives_the_crossings_of_the_current_periods_to_a_new_owner() -> None:
    ledger = ledger_with_budget()
    ledger.record("acme", "e0", _cost(0, "0.9"))
    crossings = ledger.crossings("acme")
    assert [(c.threshold, c.spent) for c in crossings] == [(0.5, Decimal("0.9")), (0.8, Decimal("0.9"))]
    assert ledger.crossings("nobody") == []
    assert isinstance(Replica(InMemoryPublisher(), set()).notifier.event(crossings[0]), CloudEvent)
