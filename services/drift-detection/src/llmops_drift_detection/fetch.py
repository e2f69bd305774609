"""Recorded calls from each fetch straight to the fold, in chunks, inside faust's own consumer (docs/adr/0057).

faust hands a record to an agent one at a time: a ``wait_first`` of four tasks, the Conductor, an Event on a
queue, the stream iterator and an ack per record, about 120 µs of CPU a call, more than the whole budget of
10,000 calls/s. :class:`BatchConsumer` is faust's aiokafka consumer with one method replaced,
``_drain_messages``: the records of the fold's topic go from each fetch to the fold handler in chunks of at most
``max_chunk`` (round-robin over the partitions, in offset order within each; a fetch short of a chunk is filled
from the next fetches for at most ``wait_s``); every other topic (the tables'
changelogs while they recover, the standbys) keeps faust's per-message path. So the group, the assignor (the
calls partitions co-partitioned with the changelog partitions), recovery (the calls partitions paused until the
tables are recovered and reindexed) and the commit (producer flushed, then the offsets) are faust's.

A chunk's offsets are acknowledged into faust's bookkeeping only once the fold returned; a chunk whose fold
raised is not acknowledged and its partitions are sought back to it (read again after a pause). While a chunk
folds, a sentinel sits among faust's unacknowledged messages, so a revocation waits for it as it waits for an
agent's event. Flow (a rebalance) and generation are checked before each chunk. The commit guard of
:mod:`llmops_drift_detection.commits` stays on as the backstop: nothing is committed past an unfolded offset.

This overrides private faust names: faust-streaming is pinned exactly and ``test_fetch_faust_names`` fails when
one of them moves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, ConsumerT, Message
from faust.types.tuples import ack_lock
from llmops_kit.kafka.messages import ConsumedMessage

from llmops_drift_detection import commits

__all__ = ["BatchConsumer", "DriftApp", "FoldRoute", "chunks", "consumed"]

Record = Any
"""aiokafka's ``ConsumerRecord`` (topic, partition, offset, timestamp in ms, key, value, headers)."""
FAILED_CHUNK_PAUSE_S = 1.0


@dataclass(frozen=True)
class FoldRoute:
    """Which topic's records go to ``fold`` in chunks of at most ``max_chunk``; a chunk short of it is filled
    from further fetches for at most ``wait_s``."""

    topic: str
    fold: Callable[[Sequence[ConsumedMessage]], Awaitable[None]]
    max_chunk: int
    wait_s: float = 1.0


def consumed(record: Record) -> ConsumedMessage:
    """aiokafka's record as the kit's message (what the dead-letter headers and the decoder take)."""
    return ConsumedMessage(
        record.topic, record.partition, record.offset, record.key, record.value or b"",
        tuple((k, bytes(v)) for k, v in (record.headers or ())), int(record.timestamp or 0),
    )  # fmt: skip


def chunks(records: Mapping[TP, list[Record]], size: int) -> Iterable[list[tuple[TP, Record]]]:
    """``records`` round-robin over the partitions, in offset order within each, cut every ``size``."""
    iterators = {tp: iter(batch) for tp, batch in records.items()}
    chunk: list[tuple[TP, Record]] = []
    while iterators:
        for tp in list(iterators):
            record = next(iterators[tp], None)
            if record is None:
                del iterators[tp]
                continue
            chunk.append((tp, record))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class BatchConsumer(driver.Consumer):
    """faust's aiokafka consumer, with the fold's topic read in chunks (see the module's docstring)."""

    _new_offset = commits._new_offset  # nothing committed past an offset that was not acknowledged (ADR 0047)

    async def _drain_messages(self, fetcher: Any) -> None:  # faust's Fetcher (a mode Service)
        consumer_stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active, generation = await self._fetch(getattr(self.app, "fold_route", None))
                await self.sleep(0)
                if records and not self.should_stop:
                    await self._deliver(records, active, generation)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _fetch(self, route: FoldRoute | None) -> tuple[dict[TP, list[Record]], set[TP] | None, int]:
        """A fetch, and while it holds calls but fewer than a chunk, more within ``wait_s``: a chunk's fold waits
        for its embeddings, so full chunks are what keeps that wait off each call.

        The generation is the one a fetch returned in, as faust's ``getmany`` takes it: a fetch waits while
        the flow is stopped, so one that began before a rebalance returns what the new assignment reads (the
        changelogs a recovery sought). Dropping those as stale would leave the recovery waiting for offsets the
        consumer has moved past. When a rebalance ends during a further fetch, what came before it is dropped
        (faust seeks every partition on the new assignment) and that fetch's records are the new generation's.
        """
        fetched, active = await self._wait_next_records(route.wait_s if route else 1.0)
        generation = self.app.consumer_generation_id
        records = {tp: list(batch) for tp, batch in (fetched or {}).items()}
        if route is None or not any(tp.topic == route.topic for tp in records):
            return records, active, generation
        deadline = time.monotonic() + route.wait_s
        while sum(len(b) for tp, b in records.items() if tp.topic == route.topic) < route.max_chunk:
            left = deadline - time.monotonic()
            if left <= 0 or not self._current(generation):
                break
            more, active = await self._wait_next_records(left)
            if self.app.consumer_generation_id != generation:
                return {tp: list(batch) for tp, batch in (more or {}).items()}, active, self.app.consumer_generation_id
            if not more:
                break
            for tp, batch in more.items():
                records.setdefault(tp, []).extend(batch)
        return records, active, generation

    async def _deliver(self, records: Mapping[TP, list[Record]], active: set[TP] | None, generation: int) -> None:
        if not self.flow_active:  # fetched as a rebalance began: read again from the committed offsets
            await self.perform_seek()
            return
        route: FoldRoute | None = getattr(self.app, "fold_route", None)
        folded = {tp: batch for tp, batch in records.items() if route is not None and tp.topic == route.topic}
        others = {tp: batch for tp, batch in records.items() if tp not in folded}
        if others:
            await self._each(others, active, generation)
        if folded and route is not None:
            await self._in_chunks(route, folded, active, generation)

    def _current(self, generation: int) -> bool:
        return self.flow_active and not self.should_stop and self.app.consumer_generation_id == generation

    def _readable(self, tp: TP, offset: int, active: set[TP] | None) -> bool:
        if active is not None and tp not in active and tp not in self._buffered_partitions:
            return False
        read = self._read_offset[tp]
        return read is None or offset >= read

    async def _each(self, records: Mapping[TP, list[Record]], active: set[TP] | None, generation: int) -> None:
        """faust's own loop, one message at a time through its callback (the Conductor)."""
        for tp, record in self.scheduler.iterate(records):
            if not self._current(generation):
                return
            if not self._readable(tp, record.offset, active):
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            await self._gap_before(tp, record.offset, record.topic)
            await self._maybe_commit()
            await self.wait_first(self.callback(self._to_message(tp, record)), self.suspend_flow.wait())
            self._read_offset[tp] = record.offset

    async def _in_chunks(
        self, route: FoldRoute, records: Mapping[TP, list[Record]], active: set[TP] | None, generation: int
    ) -> None:
        for tp in records:
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
        fresh = {tp: [r for r in batch if self._readable(tp, r.offset, active)] for tp, batch in records.items()}
        for chunk in chunks({tp: batch for tp, batch in fresh.items() if batch}, route.max_chunk):
            if not self._current(generation):
                return  # faust seeks to the committed offsets on the next assignment: the rest is read again
            for tp, record in chunk:
                await self._gap_before(tp, record.offset, record.topic)
                self._read_offset[tp] = record.offset
            await self._maybe_commit()
            if not await self._fold(route, chunk):
                await self._seek_back(chunk)
                return

    async def _fold(self, route: FoldRoute, chunk: list[tuple[TP, Record]]) -> bool:
        """Fold ``chunk``, then acknowledge it; False (nothing acknowledged) when the fold raised."""
        first_tp, first = chunk[0]
        sentinel = Message(first.topic, first.partition, first.offset, 0.0, 0, None, None, None, None, tp=first_tp)
        self._unacked_messages.add(sentinel)  # a revocation waits for this chunk (faust's wait_empty)
        folded = False
        try:
            await route.fold([consumed(record) for _, record in chunk])
        except Exception as exc:  # not acknowledged: read again after a pause, never committed over
            self.log.warning("folding %d calls failed (%s): reading them again", len(chunk), type(exc).__name__)
        else:
            self._ack_all(chunk)  # before the sentinel goes: a waiting revocation commits the chunk with it
            folded = True
        finally:
            sentinel.acked = True
            self._unacked_messages.discard(sentinel)
            self._notify_ack()
        return folded

    def _ack_all(self, chunk: list[tuple[TP, Record]]) -> None:
        """faust's ``ack`` for every record of ``chunk`` at once (same checks, one lock)."""
        if not self.app.topics.acks_enabled_for(chunk[0][1].topic):
            return
        with ack_lock:
            for tp, record in chunk:
                committed, offset = self._committed_offset[tp], record.offset
                index = self._acked_index[tp]
                if (committed is None or offset >= committed) and offset not in index:
                    index.add(offset)
                    self._acked[tp].append(offset)
                    self._n_acked += 1
        self._notify_ack()

    def _notify_ack(self) -> None:
        """Wake faust's ``wait_empty`` (what faust's ``ack`` does through mode's ``notify``)."""
        waiting = self._waiting_for_ack
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def _seek_back(self, chunk: list[tuple[TP, Record]]) -> None:
        firsts: dict[TP, int] = {}
        for tp, record in chunk:
            firsts.setdefault(tp, record.offset)
        for tp, offset in firsts.items():
            await self.seek(tp, offset)
        await self.sleep(FAILED_CHUNK_PAUSE_S)

    async def _gap_before(self, tp: TP, offset: int, topic: str) -> None:
        """Offsets between two read ones hold no message (compaction, transaction markers): a known gap, so the
        commit may pass them (faust records ``offset`` itself too; here only the empty ones)."""
        read = self._read_offset[tp]
        if read and offset - read > 1 and self.app.topics.acks_enabled_for(topic):
            await self._add_gap(tp, read + 1, offset - 1)

    async def _maybe_commit(self) -> None:
        every = self._commit_every
        if every is not None and self._n_acked >= every:
            self._n_acked = 0
            await self.commit()


class DriftApp(faust.App):
    """A faust app whose consumer is :class:`BatchConsumer`; ``fold_route`` names the topic it folds in chunks."""

    fold_route: FoldRoute | None = None

    def _new_consumer(self) -> ConsumerT:
        return BatchConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.transport.loop,
        )
