"""The export: read one tenant's calls, feedback and scores from the warehouse, build rows, deduplicate.

Each of the three reads is bounded by ``max_rows`` (``FEEDBACK_HISTORY_MAX_ROWS``); when more rows match, the
export is refused (413, narrow the window or the filters) rather than silently cut. Feedback and scores are
read from the window's start until now, since they come after their calls. Rows with the same training
content (the same ``id``) are written once, with the lineage of the newest feedback; the summary counts the
duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from llmops_kit.warehouse import HistoryReader

from llmops_feedback.export.pairs import ExportInput, approved, corrections, latest_feedback, pairwise, rating_pairs
from llmops_feedback.scores import scored_items

__all__ = ["ExportFilters", "ExportRefused", "ExportResult", "Exporter"]

Format = Literal["dpo", "sft"]
DPO_SOURCES = ("correction", "pairwise", "rating")
SFT_SOURCES = ("approved", "corrected")


class ExportRefused(Exception):
    """The export cannot run as asked: ``status`` (413: too much history; 429: too many exports; 503: no warehouse)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """Which calls to export from: ``start``..``end`` (ISO 8601) plus the warehouse's call filters."""

    start: str
    end: str | None = None
    app: str | None = None
    model: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    sources: tuple[str, ...] = ()
    """Which row sources (default: all of the format's)."""
    min_margin: float = 1.0
    approve_at: float = 4.0
    include_end_users: bool = False

    def call_params(self) -> dict[str, str]:
        named = {"start": self.start, "end": self.end, "app": self.app, "model": self.model,
                 "prompt_name": self.prompt_name, "prompt_version": self.prompt_version}  # fmt: skip
        return {k: str(v) for k, v in named.items() if v is not None}


@dataclass
class ExportResult:
    """The rows, and what was left out and why (``duplicate`` included)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    by_source: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


class Exporter:
    """Builds an export over a :class:`HistoryReader` (the warehouse)."""

    def __init__(
        self, history: HistoryReader | None, *, max_rows: int, clock: Callable[[], datetime], max_running: int = 2
    ) -> None:
        self._history = history
        self._max_rows = max_rows
        self._clock = clock
        self._max_running = max_running
        self._running = 0

    async def _read(self, tenant: str, table: str, params: dict[str, str]) -> list[dict[str, Any]]:
        assert self._history is not None
        read = await self._history.read(tenant, table, params, self._max_rows)
        if read.truncated:
            raise ExportRefused(
                413, f"more than {self._max_rows} {table} rows match; narrow the time window or the filters"
            )
        return read.rows

    async def _input(self, tenant: str, filters: ExportFilters) -> ExportInput:
        if self._history is None:
            raise ExportRefused(503, "no warehouse is configured (LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY)")
        calls = await self._read(tenant, "calls", filters.call_params())
        since = {"start": filters.start, "end": self._clock().isoformat()}
        feedback = await self._read(tenant, "feedback", since)
        scores = await self._read(tenant, "evaluation_scores", since)
        by_id = {str(row["data"]["call_id"]): row["data"] for row in calls if row.get("data")}
        return ExportInput(
            calls=by_id,
            feedback=latest_feedback(feedback),
            scores=list(scored_items(scores)),
            min_margin=filters.min_margin,
            approve_at=filters.approve_at,
            include_end_users=filters.include_end_users,
        )

    async def export(self, tenant: str, format: Format, filters: ExportFilters) -> ExportResult:
        """Every row of ``format`` the filters select, deduplicated on the row's ``id``.

        At most ``max_running`` exports run at once in a process (each may hold three bounded reads in memory).
        """
        if self._running >= self._max_running:
            raise ExportRefused(429, f"{self._max_running} exports are running; try again shortly")
        self._running += 1
        try:
            return self._rows(await self._input(tenant, filters), format, filters)
        finally:
            self._running -= 1

    def _rows(self, data: ExportInput, format: Format, filters: ExportFilters) -> ExportResult:
        wanted = filters.sources or (DPO_SOURCES if format == "dpo" else SFT_SOURCES)
        result = ExportResult()
        seen: set[str] = set()
        for source, found in _finders(data, format, wanted):
            for row, reason in found:
                if row is None:
                    result.skipped[reason or "unusable"] += 1
                elif row["id"] in seen:
                    result.skipped["duplicate"] += 1
                else:
                    seen.add(row["id"])
                    result.rows.append(row)
                    result.by_source[source] += 1
        return result


def _finders(data: ExportInput, format: Format, wanted: tuple[str, ...]) -> Iterator[tuple[str, Iterator[Any]]]:
    finders: dict[str, Callable[[], Iterator[Any]]] = (
        {"correction": lambda: corrections(data, sft=False), "pairwise": lambda: pairwise(data),
         "rating": lambda: rating_pairs(data)}
        if format == "dpo"
        else {"approved": lambda: approved(data), "corrected": lambda: corrections(data, sft=True)}
    )  # fmt: skip
    for source in wanted:
        if source in finders:
            yield source, finders[source]()
