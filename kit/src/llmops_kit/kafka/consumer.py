"""The at-least-once consumer loop: decode, handle, dead-letter what cannot succeed, then commit.

Offsets are committed only after the handler's side effect succeeded (or the message went to its
dead-letter topic), so a crash at any point redelivers rather than loses; sinks deduplicate on the
event id so redelivery never duplicates. Failures are classed:

- the decoder raised, or the handler raised :class:`PermanentError`: the message goes to ``<topic>.dlq``;
- the handler raised :class:`TransientError` (a dependency is down): after bounded retries the batch is
  re-read later, nothing is dead-lettered or committed, and ``ready`` turns false until it recovers;
- anything else: bounded retries of the batch, then each message alone, and the ones that still fail are
  dead-lettered with their error while the rest flows;
- Kafka itself failed (a dead-letter publish, a fetch): as for a transient error, nothing is committed,
  the batch is re-read after a pause and ``ready`` is false meanwhile; the loop never dies of it.

A batch is re-read by seeking every partition with fetched-but-uncommitted records back to the first of
them, the read-ahead's included (see :mod:`llmops_kit.kafka.uncommitted`).

``stop()`` finishes and commits the batch in hand; one that does not finish in time is cancelled
uncommitted (so is a handler being retried), and the group's next member re-reads it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from llmops_kit.errors import PermanentError, TransientError
from llmops_kit.kafka.messages import ConsumedMessage, Delivery, RetryPolicy, to_message
from llmops_kit.kafka.producer import EventProducer, Header
from llmops_kit.kafka.security import client_kwargs
from llmops_kit.kafka.topics import dlq_topic
from llmops_kit.kafka.uncommitted import ForgetRevoked, Uncommitted
from llmops_kit.metrics import CONSUMER_LAG, EVENTS_FAILED, EVENTS_IN, HANDLER_LATENCY
from llmops_kit.settings import KafkaSecurity

__all__ = ["ConsumedMessage", "ConsumerLoop", "Delivery", "RetryPolicy", "dead_letter_headers"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_BUSY_POLL_S = 0.02
"""How long a read-ahead past its ``max_wait_ms`` waits for records before it looks again whether the batch in
hand is handled (it then ends at once)."""


@dataclass(slots=True)
class _Batch(Generic[T]):
    """A read batch: every message in order, the decoded ones, and the ones that failed to decode."""

    messages: list[ConsumedMessage] = field(default_factory=list)
    deliveries: list[Delivery[T]] = field(default_factory=list)
    invalid: list[tuple[ConsumedMessage, Exception]] = field(default_factory=list)


async def _discard(prefetch: asyncio.Task[_Batch[T]] | None) -> None:
    """Cancel a read-ahead and wait for it to end (what it fetched stays in :class:`Uncommitted`)."""
    if prefetch is None:
        return
    prefetch.cancel()
    await asyncio.wait({prefetch})
    if not prefetch.cancelled():
        prefetch.exception()  # retrieved, so asyncio does not log "Task exception was never retrieved"


Decoder = Callable[[ConsumedMessage], T]
BatchHandler = Callable[[Sequence[Delivery[T]]], Awaitable[None]]


_DECODE_SLICE = 1_000
"""Messages decoded between two yields to the event loop (about 10 ms of decoding each)."""


class ConsumerLoop(Generic[T]):
    """Consumes ``topics`` in ``group_id``, in size- and time-bounded batches, at least once."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        decode: Decoder[T],
        handle: BatchHandler[T],
        dead_letters: EventProducer,
        service: str,
        max_batch: int = 500,
        max_wait_ms: int = 200,
        retry: RetryPolicy | None = None,
        security: KafkaSecurity | None = None,
        without_dlq: Iterable[str] = (),
        max_partition_fetch_bytes: int = 1 << 20,
        protect_original: Callable[[ConsumedMessage], bytes] | None = None,
    ) -> None:
        self._topics = list(topics)
        # What the DLQ keeps of a message's bytes: the bytes themselves, or (a topic with personal data in it)
        # what this returns, e.g. the value redacted (ADR 0035).
        self._protect_original = protect_original
        # Topics the catalog gives no DLQ (compacted config): a record that cannot be handled is counted and
        # logged as rejected, since sending it to a DLQ that does not exist would fail and re-read it forever.
        self._without_dlq = frozenset(without_dlq)
        self._group_id = group_id
        self._decode = decode
        self._handle = handle
        self._dead_letters = dead_letters
        self._service = service
        self._max_batch = max_batch
        self._max_wait_s = max_wait_ms / 1000
        self._retry = retry or RetryPolicy()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            **client_kwargs(security),
            group_id=group_id,
            client_id=f"llmops-{service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            # Most bytes one fetch brings per partition (aiokafka's default: 1 MiB, ~750 calls); a consumer
            # whose batches are larger than that raises it, or a lagging one fetches many times per batch.
            max_partition_fetch_bytes=max_partition_fetch_bytes,
        )
        self._uncommitted = Uncommitted()
        self._consumer.subscribe(self._topics, listener=ForgetRevoked(self._uncommitted))
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._degraded = False
        self._rewound = False  # a failed batch awaits its re-read

    @property
    def ready(self) -> bool:
        """Running, and not waiting out a dependency failure."""
        return self._task is not None and not self._task.done() and not self._degraded

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self._group_id}")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the batch in hand (and commit it), then leave the group.

        A batch not finished within ``timeout_s`` is cancelled and left uncommitted: the group's next
        member re-reads it.
        """
        self._stopping.set()
        try:
            if self._task is not None:
                done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
                if not done:
                    log.warning("batch not finished within %.1fs; cancelling it uncommitted", timeout_s)
                    self._task.cancel()
                    await asyncio.wait({self._task}, timeout=timeout_s)
                if self._task.done() and not self._task.cancelled() and self._task.exception() is not None:
                    log.error("consumer loop had failed", exc_info=self._task.exception())
        finally:
            await self._consumer.stop()

    async def _run(self) -> None:
        prefetch: asyncio.Task[_Batch[T]] | None = None
        while not self._stopping.is_set():
            try:
                batch = await (prefetch or self._read_batch())
                prefetch = None
                if not batch.messages:
                    # After a failed fetch Kafka answers again; after a failed batch, wait to re-read it.
                    self._degraded = self._rewound
                    continue
                # Read and decode the next batch while this one's side effect runs. Nothing of it is
                # committed before it is handled itself, so delivery stays at least once.
                handled = asyncio.Event()
                prefetch = asyncio.create_task(self._read_batch(handled))
                try:
                    await self._process(batch)
                finally:
                    handled.set()
                self._degraded = self._rewound = False
            except TransientError as exc:
                log.warning("dependency unavailable, will re-read the batch: %s", exc)
                await self._back_off(prefetch)
                prefetch = None
            except Exception:
                # Kafka itself failed (fetching, dead-lettering): like a dependency outage, nothing of the
                # batch was committed, so re-read it later rather than let the loop die holding partitions.
                log.exception("consumer loop iteration failed, will re-read the batch")
                await self._back_off(prefetch)
                prefetch = None
            await self._record_lag()
        await _discard(prefetch)

    async def _back_off(self, prefetch: asyncio.Task[_Batch[T]] | None) -> None:
        # The read-ahead ends first: it must not fetch past the rewind, and what it fetched is rewound too.
        await _discard(prefetch)
        self._degraded = True
        self._rewound = self._rewind() or self._rewound
        await asyncio.sleep(self._retry.transient_pause_s)

    async def _next_batch(self, busy: asyncio.Event | None = None) -> list[ConsumedMessage]:
        """Read until ``max_batch`` messages or ``max_wait_ms`` have passed, whichever comes first; a read-ahead
        (``busy``: set once the batch in hand is handled) also goes on reading while that batch is handled.

        So batches grow with the backlog: at a low rate a batch is what arrived within ``max_wait_ms`` (the
        latency to storage stays that short), while a consumer that lags fills each batch up to ``max_batch``
        (larger inserts cost less per record: fewer parts to write and merge in ClickHouse, docs/adr/0022).
        """
        batch: list[ConsumedMessage] = []
        deadline = time.monotonic() + self._max_wait_s
        while len(batch) < self._max_batch and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if busy is None or busy.is_set():
                    break
                remaining = _BUSY_POLL_S
            records = await self._consumer.getmany(
                timeout_ms=max(1, int(remaining * 1000)), max_records=self._max_batch - len(batch)
            )
            for tp, tp_records in records.items():
                messages = [to_message(r) for r in tp_records]
                self._uncommitted.fetched(tp, messages)
                batch.extend(messages)
        return batch

    async def _read_batch(self, busy: asyncio.Event | None = None) -> _Batch[T]:
        """The next batch, decoded (decoding is pure: dead-lettering waits for :meth:`_process`)."""
        batch: _Batch[T] = _Batch(await self._next_batch(busy))
        per_topic: dict[str, int] = {}
        for i, message in enumerate(batch.messages):
            if i and not i % _DECODE_SLICE:
                await asyncio.sleep(0)  # a large batch is decoded in slices: the loop's HTTP answers in between
            per_topic[message.topic] = per_topic.get(message.topic, 0) + 1
            try:
                batch.deliveries.append(Delivery(message, self._decode(message)))
            except Exception as exc:
                batch.invalid.append((message, exc))
        # Counted once per topic and batch: a labelled counter per message costs more than decoding it cheaply.
        for topic, count in per_topic.items():
            EVENTS_IN.labels(self._service, topic).inc(count)
        return batch

    async def _process(self, batch: _Batch[T]) -> None:
        started = time.perf_counter()
        for message, exc in batch.invalid:
            await self._dead_letter(message, exc, reason="invalid")
        if batch.deliveries:
            await self._handle_isolating_poison(batch.deliveries)
        HANDLER_LATENCY.labels(self._service, batch.messages[0].topic).observe(time.perf_counter() - started)
        await self._commit(batch.messages)

    async def _handle_isolating_poison(self, deliveries: list[Delivery[T]]) -> None:
        try:
            await self._with_retries(deliveries)
            return
        except TransientError:
            raise
        except Exception as exc:
            if len(deliveries) == 1:
                await self._dead_letter(deliveries[0].message, exc, reason="handler")
                return
            log.warning("batch of %d failed (%s); retrying message by message", len(deliveries), exc)
        for delivery in deliveries:
            try:
                await self._with_retries([delivery])
            except TransientError:
                raise
            except Exception as exc:
                await self._dead_letter(delivery.message, exc, reason="handler")

    async def _with_retries(self, deliveries: Sequence[Delivery[T]]) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=wait_exponential_jitter(
                initial=self._retry.initial_s, max=self._retry.max_s, jitter=self._retry.initial_s
            ),
            # Exceptions only: a CancelledError (stop, shutdown) must end the batch, not be retried.
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(PermanentError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._handle(deliveries)

    async def _dead_letter(self, message: ConsumedMessage, exc: BaseException, *, reason: str) -> None:
        """Publish the original bytes with where they came from and why they failed; raises if Kafka does."""
        if message.topic in self._without_dlq:
            EVENTS_FAILED.labels(self._service, message.topic, "rejected").inc()
            log.warning(
                "rejected %s[%d]@%d (the topic has no DLQ): %s",
                message.topic,
                message.partition,
                message.offset,
                _describe(exc),
            )
            return
        headers = dead_letter_headers(message, exc, self._group_id)
        value = message.value
        if self._protect_original is not None:
            value = self._protect_original(message)
            headers = (*headers, ("dlq.original", b"protected"))
        await self._dead_letters.send_many([(dlq_topic(message.topic), message.key, value, headers)])
        EVENTS_FAILED.labels(self._service, message.topic, reason).inc()
        log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, _describe(exc))

    async def _commit(self, batch: Sequence[ConsumedMessage]) -> None:
        # The highest offset per partition, keyed by plain tuples: a TopicPartition and a max() per record cost
        # a microsecond a record, as much as the warehouse's whole commit was meant to cost.
        last: dict[tuple[str, int], int] = {}
        for topic, partition, offset, *_ in batch:
            if offset >= last.get((topic, partition), -1):
                last[topic, partition] = offset
        offsets = {TopicPartition(topic, partition): offset + 1 for (topic, partition), offset in last.items()}
        try:
            await self._consumer.commit(offsets)
            self._uncommitted.committed(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another member (IllegalStateError: one is no longer assigned to this
            # one), which re-reads from the last commit; sinks dedupe.
            log.warning("commit failed after a rebalance: %s", exc)

    def _rewind(self) -> bool:
        """Seek every partition with fetched-but-uncommitted records back to the first of them.

        That covers the failed batch and whatever a read-ahead fetched, on any partition, even when it was
        cancelled holding them. Returns whether anything is to be re-read.
        """
        assigned = self._consumer.assignment()
        rewound = False
        for tp, offset in self._uncommitted.take().items():
            if tp in assigned:
                self._consumer.seek(tp, offset)
                rewound = True
        return rewound

    async def _record_lag(self) -> None:
        try:
            for tp in self._consumer.assignment():
                highwater = self._consumer.highwater(tp)
                if highwater is None:
                    continue
                position = await self._consumer.position(tp)
                CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(max(0, highwater - position))
        except IllegalStateError:  # a rebalance took the partition meanwhile; the next batch records it
            pass


def dead_letter_headers(message: ConsumedMessage, exc: BaseException, group_id: str) -> tuple[Header, ...]:
    """The headers of ``message``'s dead letter: its own, then where it came from and why it failed (every
    consumer of the platform, the kit's loop and drift-detection's faust agent, writes the same ones)."""
    return (
        *message.headers,
        ("dlq.error", _describe(exc).encode()),
        ("dlq.error_type", type(exc).__name__.encode()),
        ("dlq.source_topic", message.topic.encode()),
        ("dlq.source_partition", str(message.partition).encode()),
        ("dlq.source_offset", str(message.offset).encode()),
        ("dlq.consumer_group", group_id.encode()),
        ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:4000]
