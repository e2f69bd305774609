"""The bookkeeping behind a consumer's rewind: which offsets were fetched and not committed yet."""

from __future__ import annotations

from aiokafka import TopicPartition
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.uncommitted import ForgetRevoked, Uncommitted

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def records(tp: TopicPartition, *offsets: int) -> list[ConsumedMessage]:
    return [ConsumedMessage(tp.topic, tp.partition, o, None, b"{}", (), 0) for o in offsets]


def test_a_rewind_goes_back_to_the_first_fetched_offset_of_every_partition() -> None:
    uncommitted = Uncommitted()
    uncommitted.fetched(P0, records(P0, 10, 11))
    uncommitted.fetched(P0, records(P0, 12))
    uncommitted.fetched(P1, records(P1, 5))
    assert uncommitted.take() == {P0: 10, P1: 5}
    assert uncommitted.take() == {}  # rewound: nothing fetched since


def test_a_commit_moves_the_rewind_point_and_a_full_one_clears_it() -> None:
    uncommitted = Uncommitted()
    uncommitted.fetched(P0, records(P0, 10, 11, 12, 13))
    uncommitted.fetched(P1, records(P1, 5, 6))
    uncommitted.committed({P0: 12, P1: 7})
    assert uncommitted.take() == {P0: 12}


def test_revoked_partitions_are_forgotten_and_empty_fetches_ignored() -> None:
    uncommitted = Uncommitted()
    uncommitted.fetched(P0, records(P0, 10))
    uncommitted.fetched(P1, records(P1, 5))
    uncommitted.fetched(P1, [])
    ForgetRevoked(uncommitted).on_partitions_revoked({P0})
    assert uncommitted.take() == {P1: 5}
