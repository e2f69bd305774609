"""The batch drain inside faust's consumer: chunks to the fold, acknowledged only after it, other topics faust's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faust.types import TP
from llmops_drift_detection import commits
from llmops_drift_detection.fetch import BatchConsumer, DriftApp, FoldRoute, chunks
from llmops_kit.kafka.messages import ConsumedMessage

CALLS, CHANGELOG = "llmops.calls.recorded", "llmops.drift.windows"
P0, P1 = TP(CALLS, 0), TP(CALLS, 1)


def _record(tp: TP, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        tp.topic, tp.partition, offset, 1_700_000_000_123, 0, b"k", f"v{offset}".encode(), None, 1, 3,
        [("ce_type", b"x")],
    )  # fmt: skip


class Drain:
    """A real :class:`BatchConsumer` (no broker: only its drain is run), its folds, seeks and callbacks."""

    def __init__(self, consumer: BatchConsumer) -> None:
        self.consumer = consumer
        self.folded: list[list[tuple[int, int]]] = []
        self.seeks: list[tuple[TP, int]] = []
        self.delivered: list[tuple[str, int, int]] = []
        self.fail = False
        self.during: list[Any] = []

    async def fold(self, messages: Sequence[ConsumedMessage]) -> None:
        self.during.append((dict(self.consumer._acked), len(self.consumer._unacked_messages)))
        if self.fail:
            raise RuntimeError("dead letters could not be sent")
        self.folded.append([(m.partition, m.offset) for m in messages])

    def route(self, max_chunk: int = 3) -> FoldRoute:
        return FoldRoute(CALLS, self.fold, max_chunk)

    async def deliver(self, records: dict[TP, list[Any]], route: FoldRoute | None = None) -> None:
        self.consumer.app.fold_route = route or self.route()  # type: ignore[attr-defined]
        await self.consumer._deliver(records, set(records), self.consumer.app.consumer_generation_id)


@pytest.fixture
async def drain(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Drain]:
    app = DriftApp("drift-fetch-test", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False,
                   web_enabled=False, loghandlers=[])  # fmt: skip
    consumer = app.consumer
    assert isinstance(consumer, BatchConsumer)
    state = Drain(consumer)

    async def seek(tp: TP, offset: int) -> None:
        state.seeks.append((tp, offset))

    async def no_sleep(seconds: float) -> None:
        return None

    async def on_message(message: Any) -> None:
        state.delivered.append((message.topic, message.partition, message.offset))

    monkeypatch.setattr(consumer, "highwater", lambda tp: 0)
    monkeypatch.setattr(consumer, "seek", seek)
    monkeypatch.setattr(consumer, "sleep", no_sleep)
    monkeypatch.setattr(consumer, "callback", on_message)
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)
    yield state


async def test_a_chunk_is_acknowledged_only_once_its_fold_returned(drain: Drain) -> None:
    await drain.deliver({P0: [_record(P0, offset) for offset in range(5)]})

    assert drain.folded == [[(0, 0), (0, 1), (0, 2)], [(0, 3), (0, 4)]]
    assert drain.during[0] == ({}, 1)  # nothing acknowledged while folding; the chunk's sentinel is pending
    assert drain.consumer._acked[P0] == [0, 1, 2, 3, 4] and not drain.consumer._unacked_messages
    assert drain.consumer._read_offset[P0] == 4


async def test_the_fold_gets_the_kit_s_messages(drain: Drain) -> None:
    seen: list[ConsumedMessage] = []

    async def keep(messages: Sequence[ConsumedMessage]) -> None:
        seen.extend(messages)

    await drain.deliver({P0: [_record(P0, 7)]}, FoldRoute(CALLS, keep, 10))

    assert seen == [ConsumedMessage(CALLS, 0, 7, b"k", b"v7", (("ce_type", b"x"),), 1_700_000_000_123)]


async def test_a_failed_fold_acknowledges_nothing_and_reads_the_chunk_again(drain: Drain) -> None:
    drain.fail = True
    await drain.deliver({P0: [_record(P0, o) for o in range(10, 13)], P1: [_record(P1, o) for o in range(4, 6)]})

    assert not drain.consumer._acked[P0] and not drain.consumer._acked[P1]
    assert sorted(drain.seeks) == [(P0, 10), (P1, 4)]  # the chunk's first offsets
    assert len(drain.during) == 1 and not drain.consumer._unacked_messages  # no later chunk; sentinel released
    assert commits._new_offset(drain.consumer, P0) is None


@pytest.mark.parametrize("change", ["flow", "generation"])
async def test_a_rebalance_between_chunks_stops_the_drain(drain: Drain, change: str) -> None:
    async def fold_then_rebalance(messages: Sequence[ConsumedMessage]) -> None:
        await drain.fold(messages)
        if change == "flow":
            drain.consumer.flow_active = False
        else:
            drain.consumer.app.consumer_generation_id += 1

    await drain.deliver({P0: [_record(P0, o) for o in range(6)]}, FoldRoute(CALLS, fold_then_rebalance, 3))

    assert drain.folded == [[(0, 0), (0, 1), (0, 2)]]
    assert drain.consumer._acked[P0] == [0, 1, 2]  # the rest is read again from the committed offset


async def test_records_of_other_topics_go_one_by_one_to_faust_s_callback(drain: Drain) -> None:
    changelog = TP(CHANGELOG, 2)
    await drain.deliver({changelog: [_record(changelog, o) for o in (3, 4)], P0: [_record(P0, 0)]})

    assert drain.delivered == [(CHANGELOG, 2, 3), (CHANGELOG, 2, 4)]
    assert drain.folded == [[(0, 0)]]


async def test_offsets_that_hold_no_message_are_a_known_gap(drain: Drain) -> None:
    drain.consumer._read_offset[P0] = 4
    drain.consumer._committed_offset[P0] = 5
    await drain.deliver({P0: [_record(P0, o) for o in (5, 6, 9)]})

    assert sorted((i.begin, i.end) for i in drain.consumer._gap[P0]) == [(7, 9)]
    assert commits._new_offset(drain.consumer, P0) == 10  # the gap is no hole: committed past it


async def test_offsets_already_read_are_not_folded_again(drain: Drain) -> None:
    drain.consumer._read_offset[P0] = 5
    await drain.deliver({P0: [_record(P0, o) for o in (3, 4, 5, 6)]})

    assert drain.folded == [[(0, 5), (0, 6)]]


def test_chunks_take_the_partitions_round_robin_in_offset_order() -> None:
    records = {P0: [_record(P0, o) for o in range(3)], P1: [_record(P1, o) for o in range(10, 12)]}

    cut = [[(tp.partition, r.offset) for tp, r in chunk] for chunk in chunks(records, 2)]

    assert cut == [[(0, 0), (1, 10)], [(0, 1), (1, 11)], [(0, 2)]]


async def test_a_fetch_with_fewer_calls_than_a_chunk_is_filled_from_the_next_fetches(
    drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches = [{P0: [_record(P0, 0)]}, {P0: [_record(P0, 1)], P1: [_record(P1, 5)]}, {P1: [_record(P1, 6)]}, {}]

    async def fetch(timeout: float) -> tuple[dict[TP, list[Any]], set[TP]]:
        return fetches.pop(0), {P0, P1}

    monkeypatch.setattr(drain.consumer, "_wait_next_records", fetch)
    records, _, generation = await drain.consumer._fetch(FoldRoute(CALLS, drain.fold, 3, wait_s=5.0))

    assert {tp: [r.offset for r in batch] for tp, batch in records.items()} == {P0: [0, 1], P1: [5]}  # 3: full
    assert generation == drain.consumer.app.consumer_generation_id and len(fetches) == 2


async def _drain_once(drain: Drain, fetches: list[tuple[dict[TP, list[Any]], int]], monkeypatch: Any) -> None:
    """One pass of the real drain loop over ``fetches``: each is what a fetch returns and by how much the
    consumer generation moved while it waited (a rebalance that ended meanwhile); the fetcher stops after."""
    fetcher = type("Fetcher", (), {"_stopped": asyncio.Event()})()
    drain.consumer.app.fold_route = drain.route()  # type: ignore[attr-defined]

    async def fetch(timeout: float) -> tuple[dict[TP, list[Any]], set[TP]]:
        records, rebalances = fetches.pop(0)
        drain.consumer.app.consumer_generation_id += rebalances
        if not fetches:
            fetcher._stopped.set()
        return records, {P0, P1, TP(CHANGELOG, 4)}

    monkeypatch.setattr(drain.consumer, "_wait_next_records", fetch)
    await drain.consumer._drain_messages(fetcher)


async def test_a_fetch_that_waited_through_a_rebalance_hands_the_recovery_its_changelog_records(
    drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flow was stopped when the fetch began; the new assignment's recovery sought the changelog and resumed
    # it. Dropped as stale, these records would be gone (the position is past them): the recovery never ends.
    changelog = TP(CHANGELOG, 4)
    await _drain_once(drain, [({changelog: [_record(changelog, o) for o in (7, 8)]}, 1)], monkeypatch)

    assert drain.delivered == [(CHANGELOG, 4, 7), (CHANGELOG, 4, 8)]


async def test_a_rebalance_during_a_further_fetch_keeps_that_fetch_and_drops_what_came_before(
    drain: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    changelog = TP(CHANGELOG, 4)
    fetches = [({P0: [_record(P0, 0)]}, 0), ({changelog: [_record(changelog, 2)], P1: [_record(P1, 5)]}, 1)]
    await _drain_once(drain, fetches, monkeypatch)

    assert drain.delivered == [(CHANGELOG, 4, 2)]
    assert drain.folded == [[(1, 5)]]  # P0's call, fetched before the rebalance, is read again from its commit
