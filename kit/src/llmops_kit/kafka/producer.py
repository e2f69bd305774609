"""The platform's Kafka producer: idempotent, ``acks=all``, one instance per process."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import murmur2
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.registry import record_key

from llmops_kit.kafka.security import client_kwargs
from llmops_kit.metrics import EVENTS_OUT
from llmops_kit.settings import KafkaSecurity

__all__ = ["MAX_RECORD_BYTES", "MAX_REQUEST_BYTES", "EncodedEvent", "EventProducer", "OutgoingRecord"]

MAX_RECORD_BYTES = 1_000_000
"""Largest record the platform publishes; the broker's default ``max.message.bytes`` is about 1 MiB."""
MAX_REQUEST_BYTES = MAX_RECORD_BYTES + 64 * 1024
"""Largest record with its key and headers (the producer's ``max_request_size``)."""
MAX_BATCH_BYTES = 512 * 1024
"""Per-partition batch size, well under the broker's ~1 MiB ``message.max.bytes``. aiokafka's default (16 KiB)
holds ~15 call events, so a 1,000-call request took ~65 produce round trips, one at a time per partition."""

_PACK_FROM = 32
"""Records for one partition in one call from which the producer packs batches itself (see ``_queue``)."""
_PARTITION_CACHE_SIZE = 10_000
"""Keys whose partition is remembered (keys are tenants, or tenant:entity on compacted topics)."""

P = TypeVar("P", bound=EventPayload)
"""The payload type: ``CloudEvent`` is invariant in it, so ``CloudEvent[EventPayload]`` would refuse a
``CloudEvent[CallRecorded]``."""

Header = tuple[str, bytes]
OutgoingRecord = tuple[str, bytes | None, bytes | None, Sequence[Header]]
"""``(topic, key, value, headers)``; a ``None`` value is a tombstone (it deletes ``key`` from a compacted topic)."""
_Record = tuple[bytes | None, bytes | None, list[Header]]


class EncodedEvent(NamedTuple):
    """An event already serialised, with where it goes: what ``publish_encoded`` takes (a tuple: ingest makes
    one per record, and a frozen dataclass costs twice as much to build)."""

    topic: str
    key: bytes
    type: str
    """The CloudEvents ``type`` (the ``ce_type`` header)."""
    value: bytes
    """The event in the CloudEvents JSON format, as ``CloudEvent.to_json_bytes()`` writes it."""

    @classmethod
    def of(cls, event: CloudEvent[Any], *, topic: str | None = None) -> EncodedEvent:
        """``event`` serialised, for its payload's topic (or ``topic``) and its registry key."""
        return cls(topic or event.data.topic, record_key(event), event.type, event.to_json_bytes())


class EventProducer:
    """Publishes CloudEvents and raw records; a publish returns only once every replica has the record."""

    def __init__(
        self, bootstrap_servers: str, *, service: str, linger_ms: int = 5, security: KafkaSecurity | None = None
    ) -> None:
        self._service = service
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            **client_kwargs(security),
            client_id=f"llmops-{service}",
            enable_idempotence=True,
            acks="all",
            linger_ms=linger_ms,
            max_request_size=MAX_REQUEST_BYTES,
            max_batch_size=MAX_BATCH_BYTES,
            request_timeout_ms=30_000,
        )
        self._partition_cache: dict[tuple[bytes, int], int] = {}

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def ping(self, within_s: float = 2.0) -> bool:
        """True when the cluster answers a metadata request."""
        try:
            return bool(await asyncio.wait_for(self._producer.client.force_metadata_update(), within_s))
        except Exception:
            return False

    async def publish(self, event: CloudEvent[P], *, topic: str | None = None) -> None:
        """Publish one event to its payload's topic, keyed by tenant."""
        await self.publish_many([event], topic=topic)

    async def publish_many(self, events: Iterable[CloudEvent[P]], *, topic: str | None = None) -> None:
        """Publish events concurrently and wait until all are acknowledged (or raise).

        Keys come from the registry: the tenant on stream topics, the entity on compacted config topics
        (so compaction keeps one record per entity, not one per tenant).
        """
        await self.publish_encoded([EncodedEvent.of(e, topic=topic) for e in events])

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        """Publish events their producer serialised itself (ingest's hot path), as ``publish_many`` does."""
        await self.send_many((e.topic, e.key, e.value, (("ce_type", e.type.encode()),)) for e in events)

    async def send_many(self, records: Iterable[OutgoingRecord]) -> None:
        """Send raw records and wait for every acknowledgement (or raise).

        Records go to their key's partition (Kafka's default murmur2 partitioner, as the Java client and
        aiokafka's ``send`` choose it), in order per partition; idempotence and ``acks=all`` apply throughout.
        Every record is checked before any is queued, so a record that is too large fails the call with
        nothing published. A failure while queuing or waiting (the broker, a timeout, a cancellation) can
        leave part of the records published: delivery is at least once, and sinks deduplicate on event ids.
        """
        groups = await self._group_by_partition(records)
        queued = await asyncio.gather(*(self._queue(tp, group) for tp, group in groups.items()))
        await asyncio.gather(*(future for futures in queued for future in futures))
        per_topic: dict[str, int] = {}
        for (topic, _), group in groups.items():
            per_topic[topic] = per_topic.get(topic, 0) + len(group)
        for topic, count in per_topic.items():
            EVENTS_OUT.labels(self._service, topic).inc(count)

    async def _group_by_partition(self, records: Iterable[OutgoingRecord]) -> dict[tuple[str, int], list[_Record]]:
        """The records by (topic, partition), in order; raises before anything is sent if one is too large."""
        groups: dict[tuple[str, int], list[_Record]] = {}
        partitions: dict[str, tuple[list[int], list[int]]] = {}
        for topic, key, value, headers in records:
            headers = list(headers)
            size = len(value or b"") + len(key or b"")
            for name, data in headers:  # a loop, not sum() over a generator: ingest sends thousands a request
                size += len(name) + len(data)
            if size > MAX_REQUEST_BYTES:
                raise MessageSizeTooLargeError(f"a record of {size} bytes exceeds the limit of {MAX_REQUEST_BYTES}")
            if topic not in partitions:
                every = sorted(await self._producer.partitions_for(topic))
                available = sorted(self._producer.client.cluster.available_partitions_for_topic(topic) or every)
                partitions[topic] = (every, available)
            partition = self._partition_for(key, *partitions[topic])
            group = groups.get((topic, partition))
            if group is None:
                group = groups[(topic, partition)] = []
            group.append((key, value, headers))
        return groups

    async def _queue(self, tp: tuple[str, int], group: list[_Record]) -> list[asyncio.Future[object]]:
        """Hand one partition's records to aiokafka, in order; the futures resolve on acknowledgement.

        Many records are packed into batches here: aiokafka's per-record ``send`` costs several coroutine hops
        and a pure-Python hash per record, most of a producer's CPU at ingest's rates. A few go through
        ``send``, whose open batch concurrent callers share (a packed batch waits for the partition's previous
        one to leave, so many small ones from concurrent callers would each cost a round trip).
        """
        topic, partition = tp
        futures: list[asyncio.Future[object]] = []
        try:
            if len(group) < _PACK_FROM:
                for key, value, headers in group:
                    sent = await self._producer.send(topic, value, key=key, partition=partition, headers=headers)
                    futures.append(sent)
                return futures
            builder = self._producer.create_batch()
            for key, value, headers in group:
                if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    futures.append(await self._producer.send_batch(builder, topic, partition=partition))
                    builder = self._producer.create_batch()
                    # aiokafka takes any record into an empty batch; _group_by_partition bounded its size.
                    builder.append(key=key, value=value, timestamp=None, headers=headers)
            futures.append(await self._producer.send_batch(builder, topic, partition=partition))
            return futures
        finally:
            for future in futures:
                # If this call ends early, nobody awaits these: read their outcome so asyncio logs no
                # "exception was never retrieved" for a batch whose failure the caller already gets.
                future.add_done_callback(_consume_outcome)

    def _partition_for(self, key: bytes | None, every: list[int], available: list[int]) -> int:
        """The partition aiokafka's default partitioner gives ``key`` (hashes cached per key and count)."""
        if key is None:
            return random.choice(available)  # spreads keyless records over partitions with a leader
        cache_key = (key, len(every))
        index = self._partition_cache.get(cache_key)
        if index is None:
            if len(self._partition_cache) >= _PARTITION_CACHE_SIZE:
                self._partition_cache.clear()
            index = self._partition_cache[cache_key] = (murmur2(key) & 0x7FFFFFFF) % len(every)
        return every[index]


def _consume_outcome(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
