"""Which offsets a consumer fetched but has not committed, so a failure can rewind all of them.

A consumer's fetch position moves as soon as records are fetched, whether or not they were handled. When a
batch fails, every partition with fetched-but-uncommitted records must go back to its first such offset,
including the partitions only a cancelled read-ahead had fetched: its records are gone with it, and a later
commit on that partition would otherwise skip them for good.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from aiokafka import ConsumerRebalanceListener, TopicPartition

from llmops_kit.kafka.messages import ConsumedMessage

__all__ = ["ForgetRevoked", "Uncommitted"]


class Uncommitted:
    """Per partition, the span ``[first, end)`` of offsets fetched since the last commit.

    Updated without awaiting right where records are fetched, so a task cancelled afterwards cannot
    take records away unseen.
    """

    def __init__(self) -> None:
        self._spans: dict[TopicPartition, tuple[int, int]] = {}

    def fetched(self, tp: TopicPartition, records: Sequence[ConsumedMessage]) -> None:
        """Records of ``tp`` were fetched (in offset order)."""
        if not records:
            return
        first, _ = self._spans.get(tp, (records[0].offset, 0))
        self._spans[tp] = (first, records[-1].offset + 1)

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """``offsets`` (next offset to read, per partition) were committed."""
        for tp, offset in offsets.items():
            span = self._spans.get(tp)
            if span is None:
                continue
            if offset >= span[1]:
                del self._spans[tp]
            else:
                self._spans[tp] = (max(offset, span[0]), span[1])

    def forget(self, partitions: Collection[TopicPartition]) -> None:
        """``partitions`` left this member: whoever gets them next reads from the group's commit."""
        for tp in partitions:
            self._spans.pop(tp, None)

    def take(self) -> dict[TopicPartition, int]:
        """Where to seek each partition to re-read what it fetched; those records count as unfetched now."""
        rewind = {tp: first for tp, (first, _) in self._spans.items()}
        self._spans.clear()
        return rewind


class ForgetRevoked(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no stubs for it
    """Drops the spans of revoked partitions: a rewind must never seek a partition to a stale offset."""

    def __init__(self, uncommitted: Uncommitted) -> None:
        self._uncommitted = uncommitted

    def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        self._uncommitted.forget(revoked)

    def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        """Nothing to do: an assigned partition is read from the group's committed offset."""
