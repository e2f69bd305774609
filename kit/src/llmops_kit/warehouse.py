"""Read a tenant's history from the warehouse's query API with a service key (docs/adr/0007).

A service that needs more than its topics hold (review queues built from past scores, preference data from
stored calls and feedback, replay) asks the warehouse's generic read, ``GET /v1/events/{table}``, with its
``service`` role key and the tenant in ``X-LLMOps-Tenant``; it never opens ClickHouse. Every read is bounded:
at most ``max_rows`` rows, fetched in pages of at most 1,000 (the API's limit), and the answer says whether
more would have matched, so the caller can refuse a filter that is too wide instead of working on part of it.

The warehouse answering 429/503, or not answering, is :class:`HistoryUnavailable` (retry later); any other
error status is :class:`HistoryError` with the warehouse's ``detail``. The HTTP implementation is
:meth:`llmops_kit.platform_client.WarehouseReader.read` (one client for every service-to-service call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from llmops_kit.errors import TransientError

__all__ = ["PAGE_LIMIT", "HistoryError", "HistoryReader", "HistoryRows", "HistoryUnavailable"]

PAGE_LIMIT = 1000
"""The warehouse's largest page (``MAX_LIMIT`` of its query models)."""


class HistoryUnavailable(TransientError):
    """The warehouse is down, overloaded (429/503) or too slow: retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class HistoryError(RuntimeError):
    """The warehouse refused the read (a bad filter, a key that may not read): a defect, not a retry."""


@dataclass(frozen=True, slots=True)
class HistoryRows:
    """Stored events of one table, newest first, as the generic read returns them (``data`` is the payload)."""

    rows: list[dict[str, Any]]
    truncated: bool
    """More rows matched than ``max_rows``: the caller saw only the newest ``max_rows``."""


class HistoryReader(Protocol):
    """Reads one tenant's stored events of one warehouse table (``calls``, ``feedback``, ``evaluation_scores``...).

    ``params`` are the generic read's filters (``start``, ``end``, ``app``, ``model``, ``call_id``...); at most
    ``max_rows`` rows come back. Raises :class:`HistoryUnavailable` when the warehouse cannot answer now.
    """

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows: ...
