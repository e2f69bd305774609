"""What a closed window is compared with: the previous window, a pinned window, or a pinned dataset.

The windows' references live in the worker's references table (a faust table with its changelog topic), one
entry per scope: ``previous_window`` replaces it with every window that had enough calls, ``pinned_window``
keeps the first such window for good. ``dataset`` reads the scope's calls of a fixed period through the
warehouse's query API (the one way a service reads history, ADR 0007), once per scope.

Every reference has the features a window has at its close, evaluation scores and feedback included
(:mod:`llmops_drift_detection.outcomes`, joined by :meth:`References.with_outcomes`), and a window reference
keeps its embeddings within a bound (:mod:`llmops_drift_detection.kept`).
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from llmops_drift import flatten_call_record
from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_kit.platform_client import WarehouseReader
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import DriftReference

from llmops_drift_detection.features import Row, Scope
from llmops_drift_detection.kept import bounded, unpacked
from llmops_drift_detection.outcomes import Joined, Outcomes
from llmops_drift_detection.tables import lookup

__all__ = ["References", "parse_period", "row_of_stored_call"]

Mode = Literal["previous_window", "pinned_window", "dataset"]
_MAX_ENTRY_BYTES = MAX_RECORD_BYTES - 100_000
"""A window reference's rows in JSON, under the largest record with room for the entry's key and framing."""
_KEEP = ("prompt_length", "answer_length", "prompt_tokens", "completion_tokens", "latency_ms",
         "time_to_first_token_ms", "language", "model")  # fmt: skip


def row_of_stored_call(record: dict[str, Any]) -> Row:
    """A call as the warehouse returns it, as the same features a streamed call has."""
    flat = flatten_call_record(record)
    row: Row = {name: flat[name] for name in _KEEP if name in flat}
    row["error"] = "true" if flat.get("status") == "error" else "false"
    choices = record.get("choices")
    choices = choices if isinstance(choices, list) else []
    refused = any(isinstance(c, dict) and (c.get("refusal") or c.get("finish_reason") == "content_filter")
                  for c in choices)  # fmt: skip
    row["refusal"] = "true" if refused else "false"
    row.setdefault("language", "unknown")
    return row


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
    ) -> None:
        if mode == "dataset" and (reader is None or period is None):
            raise ValueError("a dataset reference needs the warehouse (LLMOPS_WAREHOUSE_URL, LLMOPS_SERVICE_KEY)")
        self.mode, self.min_samples, self.reader, self.period, self.max_calls = (
            mode, min_samples, reader, period, max_calls
        )  # fmt: skip
        self.outcomes, self.max_embeddings = outcomes, max_embeddings
        self._datasets: dict[Scope, list[Row]] = {}

    async def reference(
        self, scope: Scope, span: TimeWindow, table: MutableMapping[str, Any]
    ) -> tuple[DriftReference, list[Row]]:
        """The reference of ``scope``'s window ``span`` and its rows (empty: none yet)."""
        if self.mode == "dataset":
            assert self.period is not None
            digest = hashlib.sha256(f"{self.period[0].isoformat()}|{self.period[1].isoformat()}".encode())
            return DriftReference(kind="dataset", dataset_id=f"calls-{digest.hexdigest()[:16]}"), await self._dataset(
                scope
            )
        stored = lookup(table, scope.encode())
        if stored is None:  # nothing yet: the report says so, against the window before this one
            before = TimeWindow(start=span.start - (span.end - span.start), end=span.start)
            return DriftReference(kind=self.mode, window=before), []
        start, end = stored["window"]
        window = TimeWindow(start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(end, UTC))
        return DriftReference(kind=self.mode, window=window), unpacked(stored["rows"])

    def after_close(
        self, scope: Scope, span: TimeWindow, rows: Sequence[Row], table: MutableMapping[str, Any]
    ) -> dict[str, Any] | None:
        """The new reference entry of ``scope`` once ``span`` closed with ``rows``, or None to keep the old one."""
        if self.mode == "dataset" or len(rows) < self.min_samples:
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

    async def _dataset(self, scope: Scope) -> list[Row]:
        if scope not in self._datasets:
            assert self.reader is not None and self.period is not None
            filters: dict[str, Any] = {"app": scope.app, "model": scope.model, "start": self.period[0].isoformat(),
                                       "end": self.period[1].isoformat(), "origin": "application"}  # fmt: skip
            calls: dict[str, Row] = {}
            async for record in self.reader.calls(scope.tenant, **filters):
                calls[str(record.get("call_id"))] = row_of_stored_call(record)
                if len(calls) >= self.max_calls:
                    break
            joined = await self.with_outcomes(scope, *self.period, calls)
            if not joined.read:  # the scores and feedback are read again with the next window
                return joined.rows
            self._datasets[scope] = joined.rows
        return self._datasets[scope]


def parse_period(start: str | None, end: str | None) -> tuple[datetime, datetime] | None:
    """The pinned dataset's period from the settings' ISO times (None when unset)."""
    if not (start and end):
        return None
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    if first.tzinfo is None or last.tzinfo is None or last - first <= timedelta(0):
        raise ValueError("the reference period needs two ISO times with a timezone, start before end")
    return first, last
