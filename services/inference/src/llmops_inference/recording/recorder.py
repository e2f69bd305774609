"""Publishing call events off the request path, never losing one silently.

``record`` only puts the finished call in a bounded in-memory buffer (or, when that is full, hands its event to a
spill task that writes it to the spool): the caller's latency does not include Kafka, nor building the event. A
call handed over as a :class:`PendingEvent` (the gateway's :class:`~llmops_inference.recording.records.CallDraft`)
becomes its event in the drain, in slices of half a millisecond between the requests the event loop serves:
validating and serialising a chat call's event costs 40-60 us, which the request that made it no longer waits for
(unless the buffer is full: the overflow holds serialised events). The event's ``time`` is when the call ended.

A background task drains the buffer in batches through the :class:`~llmops_kit.kafka.publisher.EventPublisher`.
When a publish fails or times out, the batch goes to the :class:`~llmops_inference.recording.spool.Spool` and the
recorder marks Kafka as down: until a replay succeeds, new batches are spooled at once instead of each waiting out
a timeout. A replay task retries
the spool every ``replay_interval_s``, oldest segment first, and deletes each once Kafka acknowledged it.
Event ids are fixed when the event is built, so a replay after a partial publish never makes a duplicate that
consumers cannot recognise. What cannot even be spooled (a disk error) is logged and counted, never dropped
silently. With a ``redact`` component (the tenants' PII policies, docs/pii.md), every event is redacted before it
is published or spooled, off the event loop (:mod:`~llmops_inference.recording.redaction`); one a policy blocks is
refused and counted.

Memory and disk are bounded: the buffer holds ``buffer_size`` events or calls, the overflow waiting for the spill
task at most ``overflow_events`` events and ``overflow_bytes`` bytes (kept serialised, so its size is exact, and
redacted when spilled), and the spool its own bounds. What does not fit is refused, and so is a call whose event
cannot be built (``invalid``): counted in ``llmops_inference_events_refused_total`` by reason and logged by event
(or call) id and count (never the prompt), once when refusals start, then at most once a minute, and once more when
events are taken again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Literal, Protocol

from llmops_kit.kafka.publisher import EncodedEvent, EventPublisher
from llmops_pii.redact import PiiBlocked
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v2 import CallRecorded

from llmops_inference.metrics import EVENTS_LOST, EVENTS_REFUSED, EVENTS_SPOOLED, EVENTS_UNPUBLISHED, RECORD_BUFFER
from llmops_inference.recording.redaction import BatchRedaction
from llmops_inference.recording.spool import Spool, SpoolFull

__all__ = ["CallRecorder", "PendingEvent", "Recordable"]

log = logging.getLogger(__name__)
Event = CloudEvent[CallRecorded]
SpoolReason = Literal["kafka_unavailable", "buffer_full", "shutdown"]


class PendingEvent(Protocol):
    """A finished call whose event the recorder builds off the request path; it must not change once handed over."""

    @property
    def call_id(self) -> str:
        """The call's id (what a refusal to record it is logged by)."""
        ...

    def event(self) -> Event:
        """The call's event (validated; may raise, and is then refused as ``invalid``)."""
        ...


Recordable = Event | PendingEvent
"""What ``record`` takes: an event, or a finished call that becomes one in the drain."""
Outgoing = tuple[str, EncodedEvent]
"""An event ready for Kafka or the spool (redacted when a policy applies), with its id."""
REFUSAL_LOG_INTERVAL_S = 60.0
BUILD_SLICE_S = 0.0005
"""How long the drain builds events before it lets the event loop serve the requests waiting: one event per pass of
a busy loop would build fewer than the requests that pass finished, and the buffer would only grow."""


class Refusals:
    """Counts the events refused for one reason and logs them without flooding the log (ids and counts only)."""

    def __init__(self, reason: Literal["overflow_full", "spool_full", "pii_blocked", "invalid"]) -> None:
        self.reason = reason
        self.refused = 0
        self._logged_at = 0.0

    def refuse(self, ids: list[str], why: str) -> None:
        EVENTS_REFUSED.labels(self.reason).inc(len(ids))
        now = time.monotonic()
        if self.refused == 0 or now - self._logged_at >= REFUSAL_LOG_INTERVAL_S:
            shown = ", ".join(ids[:20])
            log.error("%s: refused %d call events (%s); %d refused so far", why, len(ids), shown, self.refused)
            self._logged_at = now
        self.refused += len(ids)

    def accepted(self) -> None:
        if self.refused:
            log.warning("call events are taken again (%s) after %d were refused", self.reason, self.refused)
            self.refused = 0


class CallRecorder:
    """A component (start/stop in the lifespan) that owns the buffer, the drain task and the replay task."""

    def __init__(
        self,
        publisher: EventPublisher,
        spool: Spool,
        *,
        buffer_size: int = 10_000,
        batch_size: int = 200,
        publish_timeout_s: float = 10.0,
        replay_interval_s: float = 5.0,
        overflow_events: int = 10_000,
        overflow_bytes: int = 64 * 1024 * 1024,
        redact: BatchRedaction | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self._publisher = publisher
        self._linger_s = linger_s
        """How long the drain waits for more events after the first of a batch, unless a batch is already queued (or
        fills meanwhile): one redaction hand-off and one publish for the calls of that time, instead of a few at low
        concurrency (each hand-off costs the gateway about half a millisecond of CPU whatever its size, ADR 0070)."""
        self._batch_filled: asyncio.Event | None = None
        """Set by ``record`` while the drain lingers, once a whole batch is queued: it stops waiting then."""
        self._redact = redact
        """Applied to every event before it is published or spooled (never on the request path), so neither Kafka
        nor the spool sees what it removes."""
        self.spool = spool
        self._queue: asyncio.Queue[Recordable] = asyncio.Queue(maxsize=buffer_size)
        self._batch_size = batch_size
        self._timeout = publish_timeout_s
        self._interval = replay_interval_s
        self._overflow: list[tuple[str, bytes]] = []
        """Events the full buffer could not take, serialised (not redacted yet), with their ids, for the spill task:
        bytes, so that the bound on them is the memory they hold."""
        self._overflow_bounds = (overflow_events, overflow_bytes)
        self._overflow_held = [0, 0]
        """Events and bytes of the overflow until they are written (a batch being spilled included)."""
        self._refusals = {
            "overflow_full": Refusals("overflow_full"),
            "spool_full": Refusals("spool_full"),
            "pii_blocked": Refusals("pii_blocked"),
            "invalid": Refusals("invalid"),
        }
        self._in_flight: list[Recordable] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._spiller: asyncio.Task[None] | None = None
        self.kafka_up = True

    # -- request path -----------------------------------------------------------------------------

    def record(self, call: Recordable) -> None:
        """Queue one event or finished call; never blocks, never raises for a full buffer."""
        try:
            self._queue.put_nowait(call)
        except asyncio.QueueFull:
            event = self._built(call)  # the overflow holds bytes: a call gets its event here, on a degraded path
            if event is not None:
                self._overflow_add(event)
        queued = self._queue.qsize()
        RECORD_BUFFER.set(queued)
        if self._batch_filled is not None and queued >= self._batch_size - 1:
            self._batch_filled.set()

    def _overflow_add(self, event: Event) -> None:
        line = event.to_json_bytes()
        most_events, most_bytes = self._overflow_bounds
        held_events, held_bytes = self._overflow_held
        if held_events + 1 > most_events or held_bytes + len(line) > most_bytes:
            why = f"the in-memory overflow is full ({held_events} events, {held_bytes} bytes held)"
            self._refusals["overflow_full"].refuse([event.id], why)
            return
        self._refusals["overflow_full"].accepted()
        self._overflow.append((event.id, line))
        self._overflow_held = [held_events + 1, held_bytes + len(line)]
        if self._spiller is None or self._spiller.done():
            self._spiller = asyncio.create_task(self._spill_overflow())

    # -- lifetime ---------------------------------------------------------------------------------

    async def start(self) -> None:
        # A fresh queue bound to this event loop (an app's lifespan may run again on another loop, as test
        # clients do), keeping anything recorded before the start.
        fresh: asyncio.Queue[Recordable] = asyncio.Queue(maxsize=self._queue.maxsize)
        while not self._queue.empty():
            fresh.put_nowait(self._queue.get_nowait())
        self._queue = fresh
        if self._redact is not None:
            await self._redact.start()
        self._tasks = [asyncio.create_task(self._drain_forever()), asyncio.create_task(self._replay_forever())]

    async def stop(self) -> None:
        """Stop the tasks, then publish (or spool) whatever is still in memory."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._spiller is not None:
            await self._spiller
        leftover = self._in_flight + self._take(self._queue.qsize())
        self._in_flight = []
        for start in range(0, len(leftover), self._batch_size):
            await self._publish_or_spool(leftover[start : start + self._batch_size], "shutdown")
        await self._spill_overflow()
        if self._redact is not None:
            await self._redact.stop()

    async def flush(self) -> None:
        """Wait until every queued event is published or spooled (tests, and callers that must know)."""
        await self._queue.join()
        if self._spiller is not None:
            await self._spiller

    # -- background -------------------------------------------------------------------------------

    async def _drain_forever(self) -> None:
        while True:
            self._in_flight = [await self._queue.get()]  # in flight at once: stop() publishes it if cancelled below
            if self._linger_s > 0 and self._queue.qsize() < self._batch_size - 1:
                await self._linger()
            self._in_flight += self._take(self._batch_size - 1)
            taken = len(self._in_flight)  # the batch may shrink: a call whose event cannot be built is taken out
            RECORD_BUFFER.set(self._queue.qsize())
            await self._publish_or_spool(self._in_flight, "kafka_unavailable")
            for _ in range(taken):
                self._queue.task_done()
            self._in_flight = []

    async def _linger(self) -> None:
        """Wait ``linger_s``, or until the queue holds the rest of a batch (the drain holds its first call)."""
        self._batch_filled = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._linger_s):
                    await self._batch_filled.wait()
        finally:
            self._batch_filled = None

    async def _replay_forever(self) -> None:
        while True:
            if self.spool.pending:
                await self.replay()
            await asyncio.sleep(self._interval)

    async def replay(self) -> bool:
        """Publish the spool, oldest segment first; True when it is empty afterwards."""
        for segment in await asyncio.to_thread(self.spool.segments):
            lines = await asyncio.to_thread(self.spool.read, segment)
            events = [EncodedEvent.of(event) for event in map(_parse, lines) if event is not None]
            try:
                for start in range(0, len(events), self._batch_size):
                    await self._publish(events[start : start + self._batch_size])
            except Exception as exc:
                self._mark_down(exc)
                return False
            await asyncio.to_thread(self.spool.remove, segment, len(lines))
            self._mark_up(f"replayed {len(events)} spooled call events")
        return True

    # -- helpers ----------------------------------------------------------------------------------

    def _take(self, most: int) -> list[Recordable]:
        taken: list[Recordable] = []
        while len(taken) < most and not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    async def _publish(self, events: list[EncodedEvent]) -> None:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that races completion.
        async with asyncio.timeout(self._timeout):
            await self._publisher.publish_encoded(events)

    async def _build(self, calls: list[Recordable]) -> list[Event]:
        """The events of ``calls``: each pending call is replaced in the list by its event, or taken out when it is
        refused, so that a batch cut short by ``stop()`` is published with what was built and refused only once.
        Builds for ``BUILD_SLICE_S`` at a time, the event loop serving the requests waiting in between."""
        slice_ends = time.perf_counter() + BUILD_SLICE_S
        i = 0
        while i < len(calls):
            call = calls[i]
            if isinstance(call, CloudEvent):
                i += 1
                continue
            if time.perf_counter() > slice_ends:
                await asyncio.sleep(0)
                slice_ends = time.perf_counter() + BUILD_SLICE_S
            event = self._built(call)
            if event is None:
                del calls[i]
            else:
                calls[i] = event
                i += 1
        return [call for call in calls if isinstance(call, CloudEvent)]

    def _built(self, call: Recordable) -> Event | None:
        """The event of ``call``, or None (refused as ``invalid``) when it cannot be built."""
        if isinstance(call, CloudEvent):
            return call
        try:
            return call.event()
        except Exception as exc:  # the type only: a validation error's message quotes the call's texts
            why = f"the call's event could not be built ({type(exc).__name__})"
            self._refusals["invalid"].refuse([call.call_id], why)
            return None

    async def _publish_or_spool(self, calls: list[Recordable], reason: SpoolReason) -> None:
        outgoing = await self._encode(await self._build(calls))
        if not outgoing:
            return
        if self.kafka_up:
            try:
                await self._publish([encoded for _, encoded in outgoing])
            except Exception as exc:
                EVENTS_UNPUBLISHED.inc(len(outgoing))
                self._mark_down(exc)
            else:
                return
        await self._write([i for i, _ in outgoing], [encoded.value for _, encoded in outgoing], reason)

    async def _encode(self, events: list[Event]) -> list[Outgoing]:
        """``events`` serialised, with the tenants' PII policies applied, without those a policy blocks (counted)."""
        if self._redact is None:
            return [(event.id, EncodedEvent.of(event)) for event in events]
        outgoing: list[Outgoing] = []
        for event, redacted in zip(events, await self._redact.redact(events), strict=True):
            if isinstance(redacted, PiiBlocked):
                self._refusals["pii_blocked"].refuse([event.id], str(redacted))
            else:
                outgoing.append((event.id, redacted))
        return outgoing

    async def _write(self, ids: list[str], lines: list[bytes], reason: SpoolReason) -> None:
        try:
            await asyncio.to_thread(self.spool.append, lines)
        except SpoolFull as exc:
            self._refusals["spool_full"].refuse(ids, str(exc))
            return
        except OSError as exc:
            EVENTS_LOST.inc(len(ids))
            log.error("could not spool %d call events (%s): %s", len(ids), ", ".join(ids[:20]), exc)
            self.kafka_up = True  # the spool does not work either: the next batch may as well try Kafka
            return
        self._refusals["spool_full"].accepted()
        EVENTS_SPOOLED.labels(reason).inc(len(ids))

    async def _spill_overflow(self) -> None:
        while self._overflow:
            batch, self._overflow = self._overflow, []
            try:
                events = [parse_event(line, upcast_to_latest=False, expect=CallRecorded) for _, line in batch]
                outgoing = await self._encode(events)
                await self._write([i for i, _ in outgoing], [encoded.value for _, encoded in outgoing], "buffer_full")
            finally:  # a cancelled spill gives its room back too, or the overflow would shrink for good
                self._overflow_held[0] -= len(batch)
                self._overflow_held[1] -= sum(len(line) for _, line in batch)

    def _mark_down(self, exc: BaseException) -> None:
        if self.kafka_up:
            log.warning("Kafka unavailable (%s): spooling call events to %s", type(exc).__name__, self.spool.directory)
        self.kafka_up = False

    def _mark_up(self, message: str) -> None:
        if not self.kafka_up:
            log.info("Kafka is back: %s", message)
        self.kafka_up = True


def _parse(line: bytes) -> Event | None:
    # parse_event upcasts: a spool written by a gateway that recorded v1 replays as v2.
    try:
        event = parse_event(line, expect=CallRecorded)
    except EventValidationError:
        event = None
    if event is not None and isinstance(event.data, CallRecorded):
        return event
    EVENTS_LOST.inc()
    log.error("skipping an unreadable spooled line (%d bytes): a write torn by a crash", len(line))
    return None
