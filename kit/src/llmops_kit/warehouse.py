"""Read a tenant's history from the warehouse's query API with a service key (docs/adr/0007).

A service that needs more than its topics hold (review queues built from past scores, preference data from
stored calls and feedback, replay) asks the warehouse's generic read, ``GET /v1/events/{table}``, with its
``service`` role key and the tenant in ``X-LLMOps-Tenant``; it never opens ClickHouse. Every read is bounded:
at most ``max_rows`` rows, fetched in pages of at most 1,000 (the API's limit), and the answer says whether
more would have matched, so the caller can refuse a filter that is too wide instead of working on part of it.

The warehouse answering 429/503, or not answering, is :class:`HistoryUnavailable` (retry later); any other
error status is :class:`HistoryError` with the warehouse's ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from llmops_kit.auth import TENANT_HEADER
from llmops_kit.errors import TransientError

__all__ = ["HistoryError", "HistoryReader", "HistoryRows", "HistoryUnavailable", "WarehouseReader"]

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


class WarehouseReader:
    """:class:`HistoryReader` over HTTP: a lifespan component holding one connection pool."""

    def __init__(
        self,
        base_url: str,
        service_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url
        self._headers = {"Authorization": f"Bearer {service_key}"}
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self._base_url, headers=self._headers, timeout=self._timeout_s, transport=self._transport
        )

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows:
        """Page through ``GET /v1/events/{table}`` until ``max_rows`` rows or the last page."""
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": str(min(PAGE_LIMIT, max_rows - len(rows) + 1))}
            if cursor:
                query["cursor"] = cursor
            page = await self._page(tenant, table, query)
            rows.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            if len(rows) > max_rows:
                return HistoryRows(rows[:max_rows], truncated=True)
            if not cursor:
                return HistoryRows(rows, truncated=False)

    async def _page(self, tenant: str, table: str, query: dict[str, str]) -> dict[str, Any]:
        if self._client is None:
            raise HistoryUnavailable("the warehouse reader is not started")
        try:
            response = await self._client.get(f"/v1/events/{table}", params=query, headers={TENANT_HEADER: tenant})
        except httpx.HTTPError as exc:
            raise HistoryUnavailable(f"the warehouse did not answer ({type(exc).__name__})") from None
        if response.status_code in (429, 502, 503, 504):
            raise HistoryUnavailable(
                f"the warehouse answered {response.status_code}", _retry_after(response.headers.get("retry-after"))
            )
        if response.status_code != 200:
            raise HistoryError(f"the warehouse refused to read {table}: {response.status_code} {_detail(response)}")
        body: dict[str, Any] = response.json()
        return body


def _retry_after(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 5
    except ValueError:
        return 5


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail") or body.get("title") or "")[:500] if isinstance(body, dict) else ""
