"""Work decided by one replica at a time: the owner of a key's partition, through a consumer group.

The replicas of a service join a consumer group on a keyed topic; Kafka gives each partition one member at a
time, so the keys of a partition (a tenant's budget events, a tenant's monitor) have one owner. A replica owns a
partition only once it has read it from its beginning up to where it ended at the assignment, so it knows what
earlier owners wrote there (``on_record`` sees each record); it keeps reading it afterwards. On a revocation the
ownership narrows first, then ``before_revoke`` runs, and aiokafka's rebalance waits for it: work in flight can
land before the next owner reads the partition. Nothing is committed: each assignment reads from the beginning.

Used by the cost service's threshold events (docs/adr/0052) and drift-detection's judge monitors (docs/adr/0058).
A replica that lost the group without noticing (paused past the session timeout) may act once more before its
revocation runs: what it writes must be idempotent for its readers (a stable id, or the latest state per key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2

from llmops_kit.kafka.security import client_kwargs
from llmops_kit.settings import KafkaSecurity
from llmops_kit.tasks import cancel_and_wait

__all__ = ["PartitionOwnership", "partition_of"]

log = logging.getLogger(__name__)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producer's default partitioner (murmur2 on the key) sends ``key`` to."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


async def _nothing() -> None:
    return None


class PartitionOwnership(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no stubs for it
    """The partitions of ``topic`` this replica owns (read up to their end), as a member of ``group_id``."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str,
        group_id: str,
        security: KafkaSecurity | None = None,
        client_id: str,
        on_record: Callable[[bytes | None, bytes | None], None] = lambda _k, _v: None,
        poll_timeout_ms: int = 500,
    ) -> None:
        self.topic = topic
        self.owned: set[int] = set()
        self.partitions = 0
        self.on_record = on_record
        self.on_owned: Callable[[int], None] = lambda _p: None
        self.before_revoke: Callable[[], Awaitable[None]] = _nothing
        self._syncing: dict[TopicPartition, int | None] = {}
        self._poll_timeout_ms = poll_timeout_ms
        self._config: dict[str, Any] = dict(
            bootstrap_servers=bootstrap_servers, **client_kwargs(security), group_id=group_id, client_id=client_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )  # fmt: skip
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def owns_key(self, key: bytes) -> bool:
        """Whether the partition of ``key`` is owned here (and read up to its end at the assignment)."""
        return self.partitions > 0 and partition_of(key, self.partitions) in self.owned

    async def check(self) -> bool:
        """Readiness: in the group and reading (owning no partition is fine: more replicas than partitions)."""
        return self._task is not None and not self._task.done()

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        self.owned -= {tp.partition for tp in revoked}
        for tp in revoked:
            self._syncing.pop(tp, None)
        await self.before_revoke()  # the work in flight lands before the next owner reads the partition

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        consumer = self._consumer
        if assigned and consumer is not None:
            self.partitions = len(consumer.partitions_for_topic(self.topic) or assigned)
            self._syncing.update({tp: None for tp in assigned})
            await consumer.seek_to_beginning(*assigned)

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**self._config)
        await self._consumer.start()
        self._consumer.subscribe([self.topic], listener=self)
        self._task = asyncio.create_task(self._run(), name=f"ownership:{self.topic}")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading %s failed; retrying", self.topic)
                await asyncio.sleep(1.0)

    async def _step(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        # A rebalance may run at any await here: only partitions still being synced are looked at after one.
        unknown = [tp for tp, end in self._syncing.items() if end is None]
        if unknown:
            ends = await consumer.end_offsets(unknown)
            self._syncing.update({tp: end for tp, end in ends.items() if tp in self._syncing})
        for records in (await consumer.getmany(timeout_ms=self._poll_timeout_ms)).values():
            for record in records:
                self.on_record(record.key, record.value)
        for tp, end in list(self._syncing.items()):
            if end is None or await consumer.position(tp) < end or tp not in self._syncing:
                continue
            del self._syncing[tp]
            self.owned.add(tp.partition)
            self.on_owned(tp.partition)
