"""What a closed window is compared with: the previous window, a pinned window, or a pinned dataset.

The windows' references live in the worker's references table (a faust table with its changelog topic), one
entry per scope: ``previous_window`` replaces it with every window that had enough calls, ``pinned_window``
keeps the first such window for good. ``dataset`` reads the scope's calls of a fixed period through the
warehouse's query API (the one way a service reads history, ADR 0007), embeds a sample of their prompts, and
keeps the result in the same table, once per scope (:mod:`llmops_drift_detection.datasets`).

Every reference has the features a window has at its close, evaluation scores and feedback included
(:mod:`llmops_drift_detection.outcomes`, joined by :meth:`References.with_outcomes`), and a stored reference
keeps its embeddings within a bound (:mod:`llmops_drift_detection.kept`).
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_kit.platform_client import WarehouseReader
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import DriftReference

from llmops_drift_detection.datasets import Dataset, DatasetReader, dataset_entry, row_of_stored_call
from llmops_drift_detection.embeddings import PromptEmbedder
from llmops_drift_detection.features import Row, Scope
from llmops_drift_detection.kept import bounded, unpacked
from llmops_drift_detection.outcomes import Joined, Outcomes
from llmops_drift_detection.tables import lookup

__all__ = ["References", "parse_period", "row_of_stored_call"]

Mode = Literal["previous_window", "pinned_window", "dataset"]
_MAX_ENTRY_BYTES = MAX_RECORD_BYTES - 100_000
"""A stored reference's rows in JSON, under the largest record with room for the entry's key and framing."""


class References:
    """The reference of each scope, by the configured mode."""

    def __init__(
        self,
        mode: Mode,
        min_samples: int,
        *,
        reader: WarehouseReader | None = None,
        period: tuple[datetime, datetime] | None = None,
        max_calls: int = 2000,
        outcomes: Outcomes | None = None,
        max_embeddings: int = 250,
        embedder: PromptEmbedder | None = None,
    ) -> None:
        if mode == "dataset" and (reader is None or period is None):
            raise ValueError("a dataset reference needs the warehouse (LLMOPS_WAREHOUSE_URL, LLMOPS_SERVICE_KEY)")
        self.mode, self.min_samples, self.reader, self.period, self.max_calls = (
            mode, min_samples, reader, period, max_calls
        )  # fmt: skip
        self.outcomes, self.max_embeddings = outcomes, max_embeddings
        self.datasets = (
            DatasetReader(reader, max_calls=max_calls, embedder=embedder, max_embeddings=max_embeddings)
            if reader is not None
            else None
        )
        self._datasets: dict[Scope, list[Row]] = {}
        self._to_store: dict[Scope, dict[str, Any]] = {}
        self._notes: dict[Scope, dict[str, str]] = {}

    @property
    def dataset_id(self) -> str:
        """The pinned dataset's id: a digest of its period."""
        assert self.period is not None
        digest = hashlib.sha256(f"{self.period[0].isoformat()}|{self.period[1].isoformat()}".encode())
        return f"calls-{digest.hexdigest()[:16]}"

    def notes(self, scope: Scope) -> dict[str, str]:
        """What ``scope``'s reference lacks, per feature (a dataset reference without its embeddings)."""
        return self._notes.get(scope, {})

    async def reference(
        self, scope: Scope, span: TimeWindow, table: MutableMapping[str, Any]
    ) -> tuple[DriftReference, list[Row]]:
        """The reference of ``scope``'s window ``span`` and its rows (empty: none yet)."""
        if self.mode == "dataset":
            return DriftReference(kind="dataset", dataset_id=self.dataset_id), await self._dataset(scope, table)
        stored = lookup(table, scope.encode())
        if stored is None or "window" not in stored:  # nothing yet (or a dataset's): said so, against the last window
            before = TimeWindow(start=span.start - (span.end - span.start), end=span.start)
            return DriftReference(kind=self.mode, window=before), []
        start, end = stored["window"]
        window = TimeWindow(start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(end, UTC))
        return DriftReference(kind=self.mode, window=window), unpacked(stored["rows"])

    def after_close(
        self, scope: Scope, span: TimeWindow, rows: Sequence[Row], table: MutableMapping[str, Any]
    ) -> dict[str, Any] | None:
        """The new reference entry of ``scope`` once ``span`` closed with ``rows``, or None to keep the old one."""
        if self.mode == "dataset":
            return self._to_store.pop(scope, None)  # read and embedded once: kept for good (ADR 0058)
        if len(rows) < self.min_samples:
            return None
        if self.mode == "pinned_window" and lookup(table, scope.encode()) is not None:
            return None
        kept = bounded(rows, max_embeddings=self.max_embeddings, max_bytes=_MAX_ENTRY_BYTES)
        return {"window": [span.start.timestamp(), span.end.timestamp()], "rows": kept}

    async def with_outcomes(self, scope: Scope, start: datetime, end: datetime, calls: dict[str, Row]) -> Joined:
        """``calls`` (rows by call id) with their scores and feedback; as they are without a warehouse."""
        if self.outcomes is None:
            return Joined(list(calls.values()))
        return await self.outcomes.join(scope.tenant, scope.app, start, end, calls)

    async def _dataset(self, scope: Scope, table: MutableMapping[str, Any]) -> list[Row]:
        """The scope's dataset rows: kept in memory, recovered from the table, or read and embedded now."""
        if scope in self._datasets:
            return self._datasets[scope]
        stored = lookup(table, scope.encode())
        if stored is not None and stored.get("dataset_id") == self.dataset_id:
            self._datasets[scope] = unpacked(stored["rows"])
            return self._datasets[scope]
        dataset = await self._read(scope)
        self._notes[scope] = dataset.notes
        if not dataset.complete:  # the scores, feedback or embeddings are tried again with the next window
            return dataset.rows
        kept = bounded(dataset.rows, max_embeddings=self.max_embeddings, max_bytes=_MAX_ENTRY_BYTES)
        self._to_store[scope] = dataset_entry(self.dataset_id, kept)
        self._datasets[scope] = unpacked(kept)
        return self._datasets[scope]

    async def _read(self, scope: Scope) -> Dataset:
        assert self.datasets is not None and self.period is not None
        filters: dict[str, Any] = {"app": scope.app, "model": scope.model, "start": self.period[0].isoformat(),
                                   "end": self.period[1].isoformat(), "origin": "application"}  # fmt: skip
        calls, prompts = await self.datasets.calls(scope, filters)
        joined = await self.with_outcomes(scope, *self.period, calls)
        return await self.datasets.embedded(scope, joined, list(calls), prompts)


def parse_period(start: str | None, end: str | None) -> tuple[datetime, datetime] | None:
    """The pinned dataset's period from the settings' ISO times (None when unset)."""
    if not (start and end):
        return None
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    if first.tzinfo is None or last.tzinfo is None or last - first <= timedelta(0):
        raise ValueError("the reference period needs two ISO times with a timezone, start before end")
    return first, last
