"""Materialise a compacted topic into memory: read it from the beginning, then follow it.

A plain :class:`aiokafka.AIOKafkaConsumer` without a consumer group is assigned every partition of the
topic and starts at offset 0 on each, so every replica rebuilds the full state by itself (a
group would split the partitions between replicas, and each replica needs all of them). Nothing is
committed. At start it notes each partition's high watermark; ``ready`` turns true once it has read up
to those (the state it holds is then at least as new as the topic was when the replica started), and
the view is told so through ``mark_caught_up()``. Afterwards it keeps applying new records as they come.
Connecting is part of the background task and is retried, so a gateway starts (and serves what needs no
configuration) while Kafka is unreachable.

A record the view cannot apply is logged and skipped: compacted topics have no dead-letter topic (the
registry's API validates before it publishes), and one bad record must not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from llmops_schemas import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event

from llmops_kit.kafka.security import client_kwargs
from llmops_kit.settings import KafkaSecurity
from llmops_kit.tasks import cancel_and_wait

__all__ = ["CompactedTopicMaterializer", "MaterializedView"]

log = logging.getLogger(__name__)


class MaterializedView(Protocol):
    """What a materialiser feeds: raw records (``value`` ``None`` is a tombstone), then "caught up"."""

    def apply_record(self, key: bytes | None, value: bytes | None) -> None: ...

    def mark_caught_up(self) -> None: ...


class CompactedStore:
    """The in-memory view of one compacted topic: raw records in, typed events folded by :meth:`apply`.

    Subclasses set ``topic`` and implement :meth:`apply` and :meth:`delete` (a tombstone for a key).
    """

    topic: str = ""

    def __init__(self) -> None:
        self._caught_up = False

    @property
    def caught_up(self) -> bool:
        """Whether the store holds the whole topic as it was when the service started."""
        return self._caught_up

    def mark_caught_up(self) -> None:
        self._caught_up = True

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one raw record: a tombstone deletes ``key``, anything else is parsed and applied."""
        if value is None:
            if key is not None:
                self.delete(key.decode())
            return
        try:
            event = parse_event(value)
        except EventValidationError as exc:
            log.warning("ignoring an invalid record on %s (key %r): %s", self.topic, key, exc)
            return
        self.apply(event)

    def apply(self, event: CloudEvent[Any]) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


class CompactedTopicMaterializer:
    """Keeps ``view`` equal to ``topic``: a lifespan component (``start``/``stop``) with a ``ready`` flag."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        view: MaterializedView,
        client_id: str = "llmops-materializer",
        poll_timeout_ms: int = 500,
        retry_pause_s: float = 1.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security
        self._topic = topic
        self._view = view
        self._client_id = client_id
        self._poll_timeout_ms = poll_timeout_ms
        self._retry_pause_s = retry_pause_s
        self._consumer: AIOKafkaConsumer | None = None
        self._targets: dict[TopicPartition, int] = {}
        self._caught_up = asyncio.Event()
        self._stepped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.applied = 0
        self.skipped = 0

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def ready(self) -> bool:
        """Caught up with the topic as it was at start, and still following it."""
        return self._caught_up.is_set() and self._task is not None and not self._task.done()

    async def check(self) -> bool:
        """``ready`` as a readiness check (``Runtime.checks``)."""
        return self.ready

    async def start(self) -> None:
        """Start following in the background (connecting, with retries, is part of it); returns at once.

        The gateway must start, and serve calls that need no prompt, while Kafka is unreachable: until the
        materialiser has caught up, ``ready`` is false (prompt requests answer 503, experiments assign nothing).
        """
        self._task = asyncio.create_task(self._run(), name=f"materialize:{self._topic}")

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until caught up (``True``) or ``timeout_s`` passed (``False``)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._caught_up.wait(), timeout_s)
        return self._caught_up.is_set()

    async def caught_up_now(self, timeout_s: float) -> bool:
        """Whether the view holds every record the topic had when this was called (waits up to ``timeout_s``).

        Read-your-writes across replicas: a member that takes over work from another (after a consumer-group
        rebalance) calls it before acting on state the other one published last.
        """
        consumer = self._consumer
        if consumer is None or not self.ready:
            return False
        ends = await consumer.end_offsets(list(consumer.assignment()))
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await _reached(consumer, ends):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stepped.wait(), remaining)
        return True

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None
        await self._disconnect()

    async def _connect(self) -> None:
        """Assign every partition from offset 0 and note where the topic ends now."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **client_kwargs(self._security),
            group_id=None,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._consumer = consumer
        await consumer.start()
        partitions = await self._partitions()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        self._targets = {tp: offset for tp, offset in ends.items() if offset > 0}
        await self._check_caught_up()

    async def _disconnect(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap, client_id=self._client_id, **client_kwargs(self._security)
        )
        await admin.start()
        try:
            (meta,) = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        numbers = [p["partition"] for p in meta.get("partitions") or []]
        if meta.get("error_code") or not numbers:
            raise RuntimeError(f"topic {self._topic!r} does not exist (create the catalog's topics first)")
        return [TopicPartition(self._topic, n) for n in sorted(numbers)]

    async def _run(self) -> None:
        while True:
            try:
                await self._connect()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot read %s yet (%s); retrying in %.0fs", self._topic, exc, self._retry_pause_s)
                await self._disconnect()
                await asyncio.sleep(self._retry_pause_s)
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading %s failed; retrying", self._topic)
                await asyncio.sleep(self._retry_pause_s)

    async def _step(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=self._poll_timeout_ms)
        for records in batches.values():
            for record in records:
                self._apply(record.key, record.value)
        await self._check_caught_up()
        stepped, self._stepped = self._stepped, asyncio.Event()
        stepped.set()  # wakes caught_up_now() to look at the positions again

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        try:
            self._view.apply_record(key, value)
            self.applied += 1
        except Exception:
            self.skipped += 1
            log.exception("skipping a record of %s that could not be applied (key %r)", self._topic, key)

    async def _check_caught_up(self) -> None:
        if self._caught_up.is_set() or self._consumer is None:
            return
        positions = [await self._consumer.position(tp) for tp in self._targets]
        if all(position >= end for position, end in zip(positions, self._targets.values(), strict=True)):
            self._caught_up.set()
            self._view.mark_caught_up()
            log.info("%s materialised: %d records applied, %d skipped", self._topic, self.applied, self.skipped)


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether ``consumer`` has read up to ``ends`` on every partition."""
    positions = [await consumer.position(tp) for tp in ends]
    return all(position >= end for position, end in zip(positions, ends.values(), strict=True))
