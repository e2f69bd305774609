"""The platform's Kafka producer: idempotent, ``acks=all``, one instance per process."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.registry import record_key

from llmops_kit.metrics import EVENTS_OUT

__all__ = ["MAX_RECORD_BYTES", "EventProducer", "OutgoingRecord"]

MAX_RECORD_BYTES = 1_000_000
"""Largest record the platform publishes; the broker's default ``max.message.bytes`` is about 1 MiB."""
MAX_REQUEST_BYTES = MAX_RECORD_BYTES + 64 * 1024
"""Largest produce request: one record of the largest size plus its key and headers."""
MAX_BATCH_BYTES = 512 * 1024
"""Per-partition batch size, well under the broker's ~1 MiB ``message.max.bytes``. aiokafka's default (16 KiB)
holds ~15 call events, so a 1,000-call request took ~65 produce round trips, one at a time per partition."""

_PARTITION_CACHE_SIZE = 10_000
"""Keys whose partition is remembered (keys are tenants, or tenant:entity on compacted topics)."""

P = TypeVar("P", bound=EventPayload)
"""The payload type: ``CloudEvent`` is invariant in it, so ``CloudEvent[EventPayload]`` would refuse a
``CloudEvent[CallRecorded]``."""

Header = tuple[str, bytes]
OutgoingRecord = tuple[str, bytes | None, bytes, Sequence[Header]]
"""``(topic, key, value, headers)``."""


class EventProducer:
    """Publishes CloudEvents and raw records; a publish returns only once every replica has the record."""

    def __init__(self, bootstrap_servers: str, *, service: str, linger_ms: int = 5) -> None:
        self._service = service
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
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

    async def publish_many(
        self, events: Iterable[CloudEvent[P]], *, topic: str | None = None, encoded: Sequence[bytes] | None = None
    ) -> None:
        """Publish events concurrently and wait until all are acknowledged (or raise).

        Keys come from the registry: the tenant on stream topics, the entity on compacted config topics
        (so compaction keeps one record per entity, not one per tenant). ``encoded`` are the events'
        ``to_json_bytes()`` when the caller has them already (ingest does, from its size check).
        """
        events = list(events)
        values = [e.to_json_bytes() for e in events] if encoded is None else encoded
        await self.send_many(
            (topic or e.data.topic, record_key(e), value, (("ce_type", e.type.encode()),))
            for e, value in zip(events, values, strict=True)
        )

    async def send_many(self, records: Iterable[OutgoingRecord]) -> None:
        """Send raw records and wait for every acknowledgement (or raise).

        Records go to their key's partition (Kafka's default murmur2 partitioner, as the Java client and
        aiokafka's ``send`` choose it) in batches this method fills itself: aiokafka's per-record ``send``
        costs several coroutine hops and a pure-Python hash per record, most of a producer's CPU at ingest's
        rates. Order per partition is kept, and idempotence and ``acks=all`` apply to these batches alike.
        """
        open_batches: dict[tuple[str, int], BatchBuilder] = {}
        partitions: dict[str, list[int]] = {}
        pending: list[asyncio.Future[object]] = []
        per_topic: dict[str, int] = {}
        for topic, key, value, headers in records:
            if len(value) + len(key or b"") > MAX_REQUEST_BYTES:
                raise MessageSizeTooLargeError(f"a record of {len(value)} bytes exceeds {MAX_REQUEST_BYTES} bytes")
            if topic not in partitions:
                partitions[topic] = sorted(await self._producer.partitions_for(topic))
            partition = self._partition_for(key, partitions[topic])
            builder = open_batches.get((topic, partition))
            headers = list(headers)
            if builder is None or builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                if builder is not None:  # full: queue it and start the next one
                    pending.append(await self._producer.send_batch(builder, topic, partition=partition))
                builder = open_batches[(topic, partition)] = self._producer.create_batch()
                # The first record of an empty batch always fits (the size check above bounds it).
                builder.append(key=key, value=value, timestamp=None, headers=headers)
            per_topic[topic] = per_topic.get(topic, 0) + 1
        for (topic, partition), builder in open_batches.items():
            pending.append(await self._producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*pending)
        for topic, count in per_topic.items():
            EVENTS_OUT.labels(self._service, topic).inc(count)

    def _partition_for(self, key: bytes | None, partitions: list[int]) -> int:
        """The partition aiokafka's default partitioner gives ``key`` (hashes cached per key and count)."""
        if key is None:
            return random.choice(partitions)  # spreads keyless records
        cache_key = (key, len(partitions))
        index = self._partition_cache.get(cache_key)
        if index is None:
            if len(self._partition_cache) >= _PARTITION_CACHE_SIZE:
                self._partition_cache.clear()
            index = self._partition_cache[cache_key] = (murmur2(key) & 0x7FFFFFFF) % len(partitions)
        return partitions[index]
