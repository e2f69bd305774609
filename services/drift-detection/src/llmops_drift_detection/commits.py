"""A guard on faust's offset commits: never past a message of the partition that was not acknowledged.

faust-streaming 0.15.3's ``Consumer._new_offset`` finds the offset to commit from the acknowledged offsets, and
refuses when they do not start right after the last commit, but only when the hole is more than one message
(``min(acked) - committed > 1``, where ``committed`` is already the next offset to read) and only when something
was committed (``if committed_offset:``). One message that never reached the agent is then committed over: the
kill -9 test caught it, a restarted worker whose stream never handed one message of each of two partitions to
the agent, right after its first batch (the fold log showed offsets 73-78 and 80-86 of one partition folded, 79
never), and committed past both (faust-streaming issue 606's family; docs/adr/0047). The guard makes the head
check exact: with the first acknowledged offset beyond the committed one and no known gap (offsets that hold no
message) covering the hole, nothing is committed. :class:`HoleMender` then reads such a partition again from
its committed offset when the hole outlived one check of the closer (every ``close_interval_s``). The guard is
the ``_new_offset`` of the service's consumer (:class:`llmops_drift_detection.fetch.BatchConsumer`), not a patch
of faust's class.
"""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer

__all__ = ["HoleMender", "holes"]

_ORIGINAL = Consumer._new_offset


def _new_offset(self: Any, tp: Any) -> int | None:
    acked, committed = self._acked[tp], self._committed_offset[tp]
    if acked and committed is not None and min(acked) > committed and not self._gap[tp].overlaps(committed):
        return None  # the message at the committed offset was never acknowledged: commit nothing past it
    result: int | None = _ORIGINAL(self, tp)
    return result


def holes(consumer: Any) -> dict[Any, int]:
    """The partitions whose commit the guard holds back, with the committed offset (the hole's first message)."""
    found: dict[Any, int] = {}
    for tp, acked in list(consumer._acked.items()):
        committed = consumer._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed and not consumer._gap[tp].overlaps(committed):
            found[tp] = committed
    return found


class HoleMender:
    """Reads a held-back partition again from its committed offset once the hole outlived one check.

    A hole is a message faust never handed to the agent; without a new read, the partition's commits would stay
    held back until the next rebalance or restart. Reading again folds the messages after the hole a second time:
    duplicates by call id, counted once.
    """

    def __init__(self) -> None:
        self._seen: dict[Any, int] = {}

    async def mend(self, consumer: Any) -> list[Any]:
        """Seek every partition whose hole was already there at the last check; the partitions sought."""
        current = holes(consumer)
        stale = [tp for tp, offset in current.items() if self._seen.get(tp) == offset]
        for tp in stale:
            await consumer.seek(tp, current[tp])
        self._seen = {tp: offset for tp, offset in current.items() if tp not in stale}
        return stale
