"""The windows table's layout: one entry per batch, scope and window; each call counted once, the bound kept."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from llmops_drift_detection.entries import Pending, WindowEntries
from llmops_drift_detection.features import Scope
from llmops_drift_detection.kept import pack
from llmops_drift_detection.tables import encoded
from llmops_drift_detection.windows import Windowing, WindowKey

SCOPE = Scope("acme", "support-bot", "production", "gpt-4o-mini")
OTHER = Scope("beta", "support-bot", "production", "gpt-4o")


class FakeTable:
    """faust's table as the entries use it: its store's ``data`` and ``send_changelog``."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.changelog: list[tuple[int, str, Any]] = []

    def send_changelog(self, partition: int, key: str, value: Any, value_serializer: str | None = None) -> None:
        self.changelog.append((partition, key, value))


def _entries(bound: int = 100) -> tuple[WindowEntries, FakeTable]:
    table = FakeTable()
    return WindowEntries(cast(Any, table), bound), table


def _fold(entries: WindowEntries, scope: Scope, start: float, offset: int, call_ids: list[str]) -> list[str]:
    """Admit and write ``call_ids`` as one batch of partition 0; the admissions."""
    pending: Pending = {}
    admitted: list[str] = [entries.admit(scope, start, call_id, pending) for call_id in call_ids]
    rows = {call_id: {"latency_ms": 1.0} for call_id, a in zip(call_ids, admitted, strict=True) if a == "windowed"}
    entries.write({(0, scope, start): (offset, rows)} if rows else {})
    return admitted


def test_a_batch_writes_one_entry_and_one_changelog_record_per_scope_and_window() -> None:
    entries, table = _entries()

    _fold(entries, SCOPE, 600.0, 10, ["a", "b", "c"])

    assert len(table.data) == 1 and len(table.changelog) == 1
    partition, key, value = table.changelog[0]
    assert (partition, WindowKey.decode(key).entry, sorted(value["r"])) == (0, "0:10", ["a", "b", "c"])


def test_a_call_folded_again_is_a_duplicate_even_after_a_recovery() -> None:
    entries, table = _entries()
    _fold(entries, SCOPE, 600.0, 10, ["a", "b"])
    recovered = WindowEntries(cast(Any, table), 100)  # a restarted worker: the table came from the changelog
    table.data = {encoded(k): v for k, v in table.data.items()}  # recovered keys are raw JSON bytes

    asyncio.run(recovered.reindex())

    assert _fold(recovered, SCOPE, 600.0, 10, ["b", "c"]) == ["duplicate", "windowed"]
    assert recovered.calls_held() == 3


def test_a_window_closes_with_each_call_once_even_when_two_entries_hold_it() -> None:
    entries, table = _entries()
    _fold(entries, SCOPE, 600.0, 10, ["a", "b"])
    stale = WindowEntries(cast(Any, table), 100)  # an index not rebuilt: the replayed call reaches a second entry
    _fold(stale, SCOPE, 600.0, 12, ["b", "c"])
    closer = WindowEntries(cast(Any, table), 100)
    asyncio.run(closer.reindex())

    [window] = closer.closable(Windowing(600, None, 10), 1210.0)
    partition, rows = closer.rows(window)

    assert len(window.keys) == 2 and len(rows) == 3 and partition == 0


def test_the_bound_is_kept_per_scope_and_window() -> None:
    entries, _ = _entries(bound=2)

    assert _fold(entries, SCOPE, 600.0, 1, ["a", "b", "c"]) == ["windowed", "windowed", "over_bound"]
    assert _fold(entries, SCOPE, 1200.0, 4, ["d"]) == ["windowed"]
    assert _fold(entries, OTHER, 600.0, 5, ["e"]) == ["windowed"]


def test_closed_windows_come_oldest_first_and_are_forgotten_with_tombstones() -> None:
    entries, table = _entries()
    windowing = Windowing(600, None, 10)
    _fold(entries, SCOPE, 1200.0, 1, ["a"])
    _fold(entries, SCOPE, 600.0, 2, ["b"])
    _fold(entries, OTHER, 600.0, 3, ["c"])
    _fold(entries, SCOPE, 1800.0, 4, ["d"])

    closed = entries.closable(windowing, 1810.0)

    assert [(w.scope.tenant, w.start, w.end) for w in closed] == [
        ("acme", 600.0, 1200.0), ("beta", 600.0, 1200.0), ("acme", 1200.0, 1800.0),
    ]  # fmt: skip
    for window in closed:
        entries.forget(window, 0)
    assert entries.calls_held() == 1 and len(table.data) == 1
    assert [value for _, _, value in table.changelog[-3:]] == [None, None, None]


def test_an_entry_of_the_one_call_per_entry_layout_reads_as_that_call() -> None:
    entries, table = _entries()
    legacy = WindowKey(SCOPE, 600.0, "call-7").encode()
    table.data[encoded(legacy)] = {"p": 2, "f": {"latency_ms": 5.0}}

    asyncio.run(entries.reindex())
    [window] = entries.closable(Windowing(600, None, 10), 1210.0)

    assert entries.rows(window) == (2, [{"latency_ms": 5.0}])
    assert [held[2] for held in entries.held("acme")] == [1]


def test_admissions_reach_the_index_only_when_the_batch_is_written() -> None:
    entries, _ = _entries(bound=3)
    pending: Pending = {}

    assert [entries.admit(SCOPE, 600.0, c, pending) for c in ("a", "a", "b")] == ["windowed", "duplicate", "windowed"]
    assert entries.calls_held() == 0  # a fold cut short here (cancelled while embedding) leaves no ghost id

    assert _fold(entries, SCOPE, 600.0, 5, ["a", "b", "c", "d"]) == ["windowed", "windowed", "windowed", "over_bound"]
    assert entries.calls_held() == 3


def test_a_closing_window_reads_packed_embeddings_and_the_earlier_lists_alike() -> None:
    entries, _ = _entries()
    pending: Pending = {}
    for call_id in ("new", "old"):
        entries.admit(SCOPE, 600.0, call_id, pending)
    entries.write({
        (0, SCOPE, 600.0): (1, {"new": {"prompt_embedding": pack([0.5, -0.25])}}),
        (1, SCOPE, 600.0): (1, {"old": {"prompt_embedding": [0.1235, 1.0]}}),  # a row written before packing
    })  # fmt: skip

    [window] = entries.closable(Windowing(600, None, 10), 1210.0)
    _, rows = entries.calls(window)

    assert rows == {"new": {"prompt_embedding": [0.5, -0.25]}, "old": {"prompt_embedding": [0.1235, 1.0]}}
