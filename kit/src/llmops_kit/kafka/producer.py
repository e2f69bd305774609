"""The platform's Kafka producer: idempotent, ``acks=all``, one instance per process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.registry import record_key

from llmops_kit.metrics import EVENTS_OUT

__all__ = ["MAX_RECORD_BYTES", "EventProducer", "OutgoingRecord"]

MAX_RECORD_BYTES = 1_000_000
"""Largest record the platform publishes; the broker's default ``max.message.bytes`` is about 1 MiB."""
MAX_BATCH_BYTES = 512 * 1024
"""Per-partition batch size, well under the broker's ~1 MiB ``message.max.bytes``. aiokafka's default (16 KiB)
holds ~15 call events, so a 1,000-call request took ~65 produce round trips, one at a time per partition."""

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
            max_request_size=MAX_RECORD_BYTES + 64 * 1024,
            max_batch_size=MAX_BATCH_BYTES,
            request_timeout_ms=30_000,
        )

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
        """Send raw records concurrently and wait for every acknowledgement."""
        pending: list[tuple[str, asyncio.Future[object]]] = []
        for topic, key, value, headers in records:
            future = await self._producer.send(topic, value=value, key=key, headers=list(headers))
            pending.append((topic, future))
        await asyncio.gather(*(f for _, f in pending))
        for topic, _ in pending:
            EVENTS_OUT.labels(self._service, topic).inc()
