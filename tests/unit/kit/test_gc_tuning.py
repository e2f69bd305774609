"""Services freeze their start-up heap and collect less often once started (see llmops_kit.http.gc_tuning)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from llmops_kit.http.gc_tuning import THRESHOLDS, tune_after_startup


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore_gc")
def test_tuning_freezes_the_live_heap_and_spaces_out_collections() -> None:
    survivor = [object() for _ in range(10)]  # a start-up object: alive when the tuning runs
    gc.unfreeze()
    assert gc.get_freeze_count() == 0

    tune_after_startup()

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0
    # Frozen objects sit in the permanent generation, which collections (and get_objects) never walk.
    assert all(o is not survivor for o in gc.get_objects())


@pytest.mark.usefixtures("restore_gc")
def test_cycles_made_after_startup_are_still_collected() -> None:
    tune_after_startup()

    class Node:
        partner: Node | None = None

    first, second = Node(), Node()
    first.partner, second.partner = second, first
    alive = len([o for o in gc.get_objects() if isinstance(o, Node)])
    del first, second
    gc.collect()
    assert alive == 2
    assert not [o for o in gc.get_objects() if isinstance(o, Node)]
