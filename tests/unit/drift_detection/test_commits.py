"""The guard on faust's commits: nothing is committed past a message that was not acknowledged."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from intervaltree import IntervalTree
from llmops_drift_detection import commits

PARTITION = TP("llmops.calls.recorded", 0)


def _consumer(committed: int | None, acked: list[int], gap: tuple[int, int] | None = None) -> Any:
    """The state faust's ``_new_offset`` reads: acknowledged offsets, the last commit, known gaps."""
    gaps: defaultdict[TP, IntervalTree] = defaultdict(IntervalTree)
    if gap:
        gaps[PARTITION].addi(*gap)
    return SimpleNamespace(
        _acked=defaultdict(list, {PARTITION: list(acked)}), _acked_index=defaultdict(set, {PARTITION: set(acked)}),
        _committed_offset=defaultdict(lambda: None, {PARTITION: committed}), _gap=gaps,
    )  # fmt: skip


def test_faust_alone_commits_past_one_message_never_acknowledged() -> None:
    assert commits._ORIGINAL(_consumer(79, [80, 81]), PARTITION) == 82  # the defect the guard is for


def test_the_guard_commits_nothing_past_it() -> None:
    assert commits._new_offset(_consumer(79, [80, 81]), PARTITION) is None
    assert commits._new_offset(_consumer(0, [1, 2]), PARTITION) is None


def test_the_guard_commits_what_follows_the_last_commit_without_a_hole() -> None:
    assert commits._new_offset(_consumer(79, [79, 80, 81, 83]), PARTITION) == 82
    assert commits._new_offset(_consumer(None, [5, 6]), PARTITION) == 7  # nothing committed yet: faust decides


def test_a_known_gap_is_no_hole() -> None:
    assert commits._new_offset(_consumer(79, [81, 82], gap=(79, 81)), PARTITION) == 83


def test_the_service_s_consumer_commits_through_the_guard() -> None:
    from faust.transport.consumer import Consumer
    from llmops_drift_detection.fetch import BatchConsumer

    assert BatchConsumer._new_offset is commits._new_offset
    assert Consumer._new_offset is commits._ORIGINAL  # faust's class itself is left as it is


async def test_a_hole_that_outlives_one_check_is_read_again_from_the_committed_offset() -> None:
    consumer = _consumer(79, [80, 81])
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    consumer.seek = seek
    mender = commits.HoleMender()

    assert await mender.mend(consumer) == []  # seen once: it may still fill
    assert await mender.mend(consumer) == [PARTITION] and sought == [(PARTITION, 79)]
    consumer._acked[PARTITION] = [79, 80, 81]  # read again and folded: no hole any more
    assert await mender.mend(consumer) == [] and len(sought) == 1
