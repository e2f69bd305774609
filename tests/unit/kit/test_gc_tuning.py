"""Services freeze their start-up heap and collect less often once started (see llmops_kit.http.gc_tuning), and set
the interpreter's switch interval they ask for (docs/adr/0071)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from llmops_kit.http.app import _Server
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


@pytest.mark.usefixtures("restore_gc")
def test_a_service_serves_with_its_own_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        return None

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    server = _Server(uvicorn.Config(FastAPI()), (1_000_000, 20, 100))

    asyncio.run(server.startup())

    assert gc.get_threshold() == (1_000_000, 20, 100)


@pytest.fixture
def restore_switch_interval() -> Iterator[None]:
    interval = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("restore_gc", "restore_switch_interval")
@pytest.mark.parametrize(("given", "expected"), [(0.02, 0.02), (None, 0.005)])
def test_a_service_sets_the_switch_interval_it_asks_for_once_started(
    monkeypatch: pytest.MonkeyPatch, given: float | None, expected: float
) -> None:
    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        return None

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    sys.setswitchinterval(0.005)  # CPython's default
    server = _Server(uvicorn.Config(FastAPI()), THRESHOLDS, given)
    assert sys.getswitchinterval() == pytest.approx(0.005)  # not at construction: once started

    asyncio.run(server.startup())

    assert sys.getswitchinterval() == pytest.approx(expected)
