"""The windows table's layout: one entry per scope, window and fold batch, holding its calls' rows by call id.

The agent folds calls in batches and writes one table entry (one changelog record) per scope and window a batch
touched, not one per call: key ``[scope, window start, "<partition>:<offset>"]`` (the offset of the batch's first
call in that scope and window), value ``{"p": partition, "r": {call id: row}}``.

Nothing is counted twice: an in-memory index of the call ids each window holds, rebuilt from the table after
every recovery (faust awaits the tables' recovery callbacks before it resumes the source partitions), keeps a
call folded again after a restart out of a second entry and enforces ``max_calls_per_window``; and a window's
rows are merged by call id when it closes, so a call that still reached two entries is counted once there. A
batch's admissions stay local to the batch (``pending``) until :meth:`WindowEntries.write`: a fold cut short
between the two (cancelled while it waits for embeddings) leaves no call id in the index without its entry.
An entry of the earlier layout (one per call: the key's last part its call id, value ``{"p", "f": row}``, ADR
0046) reads as a batch of that one call, so a changelog written before the upgrade recovers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

import faust

from llmops_drift_detection.features import Row, Scope
from llmops_drift_detection.kept import unpacked
from llmops_drift_detection.tables import decoded, lookup, pop_both
from llmops_drift_detection.windows import ClosedWindow, Windowing, WindowKey

__all__ = ["Admission", "Batch", "Pending", "WindowEntries"]

Admission = Literal["windowed", "duplicate", "over_bound"]
Batch = dict[tuple[int, Scope, float], tuple[int, dict[str, Row]]]
"""A fold batch's rows: (partition, scope, window start) -> (first offset, rows by call id)."""
Pending = dict[tuple[Scope, float], set[str]]
"""The call ids a batch admitted so far, by scope and window start (not yet in the index)."""


class WindowEntries:
    """The windows table, written once per batch, scope and window, with the index of the call ids it holds."""

    def __init__(self, table: faust.types.TableT[Any, Any], bound: int) -> None:
        self.table, self.bound = table, bound
        self._held: dict[tuple[Scope, float], set[str]] = defaultdict(set)
        self._keys: dict[tuple[Scope, float], set[str]] = defaultdict(set)

    async def reindex(self) -> None:
        """Rebuild the index from the table (after a recovery: its entries came from the changelog)."""
        held: dict[tuple[Scope, float], set[str]] = defaultdict(set)
        keys: dict[tuple[Scope, float], set[str]] = defaultdict(set)
        for raw, value in list(self.table.data.items()):
            text = decoded(raw)
            key = WindowKey.decode(text)
            held[(key.scope, key.start)].update(_rows(key, decoded(value)))
            keys[(key.scope, key.start)].add(text)
        self._held, self._keys = held, keys

    def admit(self, scope: Scope, start: float, call_id: str, pending: Pending) -> Admission:
        """Whether ``call_id`` goes into ``scope``'s window at ``start``: new and under the bound, or not; an
        admitted one joins the batch's ``pending`` ids (the index gets them when the batch is written)."""
        held, taken = self._held.get((scope, start), set()), pending.setdefault((scope, start), set())
        if call_id in held or call_id in taken:
            return "duplicate"
        if len(held) + len(taken) >= self.bound:
            return "over_bound"
        taken.add(call_id)
        return "windowed"

    def write(self, batch: Batch) -> None:
        """One entry (and one changelog record) per partition, scope and window of the batch; its calls join
        the index."""
        for (partition, scope, start), (offset, rows) in batch.items():
            self._held[(scope, start)].update(rows)
            text = WindowKey(scope, start, f"{partition}:{offset}").encode()
            value = {"p": partition, "r": rows}
            pop_both(self.table.data, text)  # the same entry written again after a restart: one form only
            self.table.data[text] = value
            self.table.send_changelog(partition, text, value)
            self._keys[(scope, start)].add(text)

    def rows(self, window: ClosedWindow) -> tuple[int, list[Row]]:
        """The partition of ``window``'s entries and its rows, each call once (by call id), at most the bound."""
        partition, calls = self.calls(window)
        return partition, list(calls.values())

    def calls(self, window: ClosedWindow) -> tuple[int, dict[str, Row]]:
        """The partition of ``window``'s entries and its rows by call id (each call once), at most the bound;
        packed embeddings as lists of floats again."""
        merged: dict[str, Row] = {}
        partition = 0
        for text in window.keys:
            entry = lookup(self.table.data, text)
            if entry is not None:  # None: its partition went to another worker since the index was built
                partition = entry["p"]
                merged.update(_rows(WindowKey.decode(text), entry))
        kept = sorted(merged)[: self.bound]
        return partition, dict(zip(kept, unpacked([merged[call_id] for call_id in kept]), strict=True))

    def forget(self, window: ClosedWindow, partition: int) -> None:
        """Delete ``window``'s entries (tombstones in the changelog) and its index."""
        for text in window.keys:
            pop_both(self.table.data, text)
            self.table.send_changelog(partition, text, None, value_serializer="raw")
        self._held.pop((window.scope, window.start), None)
        self._keys.pop((window.scope, window.start), None)

    def calls_held(self, tenants: set[str] | None = None) -> int:
        """How many calls the open windows (of ``tenants``; all without) hold, from the index: no entry is read."""
        return sum(len(ids) for (scope, _), ids in self._held.items() if tenants is None or scope.tenant in tenants)

    def closable(self, windowing: Windowing, now: float) -> list[ClosedWindow]:
        """The windows past their end and grace at ``now``, oldest first (a scope's windows close in order),
        from the index: no entry is read."""
        closed = sorted(
            (start, scope) for scope, start in self._keys if windowing.closed(start, now) and self._keys[(scope, start)]
        )
        return [
            ClosedWindow(scope, start, start + windowing.size, tuple(sorted(self._keys[(scope, start)])))
            for start, scope in closed
        ]

    def held(self, tenant: str) -> Iterable[tuple[Scope, float, int]]:
        """``tenant``'s windows with the calls each holds (distinct call ids), read from the table."""
        ids: dict[tuple[Scope, float], set[str]] = defaultdict(set)
        for raw, value in list(self.table.data.items()):
            key = WindowKey.decode(decoded(raw))
            if key.scope.tenant == tenant:
                ids[(key.scope, key.start)].update(_rows(key, decoded(value)))
        return [(scope, start, len(calls)) for (scope, start), calls in ids.items()]


def _rows(key: WindowKey, entry: dict[str, Any]) -> dict[str, Row]:
    """An entry's rows by call id (an entry of the one-call-per-entry layout: its one row)."""
    return entry["r"] if "r" in entry else {key.entry: entry["f"]}
