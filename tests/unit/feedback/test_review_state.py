"""The order of a review queue: items are handed out by the ``position`` their source gave them, whatever order
their records are read in (one queue's items are spread over the partitions of ``llmops.review.items``)."""

from __future__ import annotations

import random
from datetime import timedelta

from llmops_feedback.review import rules
from llmops_feedback.review.state import ReviewState
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ReviewItemUpdated

from tests.unit.feedback.support import NOW

TTL = timedelta(minutes=15)


def enqueued(n: int, position: int | None = None) -> ReviewItemUpdated:
    """Item ``call-<n>`` at ``position`` (default ``n``)."""
    return rules.enqueue("q", f"call-{n:03d}", None, NOW, "admin", n if position is None else position)


def legacy(n: int) -> ReviewItemUpdated:
    """An item enqueued before items had a position."""
    return enqueued(n).model_copy(update={"position": None})


def read(state: ReviewState, items: list[ReviewItemUpdated]) -> None:
    """Feed ``items`` through the materialiser's view, as records read from the topic."""
    for item in items:
        event = CloudEvent.wrap(item, source="feedback", tenant_id="acme", subject=item.call_id, key_id="admin")
        key = f"acme:{item.entity_key()}".encode()
        state.items_view.apply_record(key, event.to_json_bytes())


def order(state: ReviewState) -> list[str]:
    return list(state.items("acme", "q"))


def test_items_are_handed_out_by_position_whatever_order_their_records_are_read_in() -> None:
    items = [enqueued(n) for n in range(60)]
    shuffled = random.Random(7).sample(items, len(items))
    state = ReviewState()
    read(state, shuffled)
    assert order(state) == [i.item_id for i in items]
    # Later changes (claims of items read out of order) keep each item's place.
    read(state, [rules.claim(i, "ann", NOW, TTL) for i in reversed(items[10:20])])
    assert order(state) == [i.item_id for i in items]
    assert [i.position for i in state.items("acme", "q").values()] == list(range(60))
    assert state.items("acme", "q")["call-015"].locked_by == "ann"


def test_an_item_read_in_place_leaves_the_queue_as_it_is() -> None:
    state = ReviewState()
    read(state, [enqueued(n) for n in range(5)])
    held = state.items("acme", "q")
    read(state, [enqueued(5)])
    assert state.items("acme", "q") is held
    assert order(state)[-1] == "call-005"
    read(state, [enqueued(7), enqueued(6)])  # one read ahead of its place: sorted in before it
    assert order(state)[-3:] == ["call-005", "call-006", "call-007"]
    assert state.items("acme", "q") is held


def test_items_without_a_position_come_after_the_numbered_ones_in_the_order_they_came() -> None:
    state = ReviewState()
    old = [legacy(n) for n in (9, 3, 7)]
    read(state, [old[0], enqueued(2), old[1], enqueued(0), old[2], enqueued(1)])
    assert order(state) == ["call-000", "call-001", "call-002", "call-009", "call-003", "call-007"]


def test_an_older_state_read_again_does_not_undo_a_change_or_move_the_item() -> None:
    state = ReviewState()
    items = [enqueued(n) for n in range(3)]
    read(state, items)
    claimed = rules.claim(items[1], "ann", NOW, TTL)
    read(state, [claimed, items[1]])
    assert state.items("acme", "q")["call-001"].revision == 1
    assert order(state) == ["call-000", "call-001", "call-002"]


def test_a_dropped_queue_and_item_leave_nothing_to_sort() -> None:
    state = ReviewState()
    read(state, [enqueued(n) for n in (2, 0, 1)])
    state.items_view.delete("acme:q:call-000")
    assert order(state) == ["call-001", "call-002"]
    read(state, [enqueued(4), enqueued(3)])
    state.drop_queue("acme", "q")
    assert order(state) == []
