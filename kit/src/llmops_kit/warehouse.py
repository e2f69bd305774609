"""Reading a tenant's history from the warehouse's query API with a service key (ADR 0007).

A platform service never opens ClickHouse: it pages through ``GET /v1/calls`` or ``GET /v1/events/<table>``
with its own ``service`` key, naming the tenant it reads for in ``X-LLMOps-Tenant`` on every request. One
client per process; :meth:`WarehouseReader.pages` follows the keyset cursors up to a bound the caller sets, so
no read is unbounded. A 429 or 503 (the warehouse protecting its inserts, or down) is a
:class:`WarehouseUnavailable` carrying the ``Retry-After`` to pass on; anything else that is not a 200 is a
:class:`WarehouseError`. The key is sent, never logged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from llmops_kit.auth import TENANT_HEADER

__all__ = ["WarehouseError", "WarehouseReader", "WarehouseUnavailable"]

PAGE_LIMIT = 1000
"""The warehouse's largest page."""


class WarehouseError(RuntimeError):
    """The warehouse refused the read (a 4xx other than 429): the request is wrong, retrying will not help."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class WarehouseUnavailable(WarehouseError):
    """The warehouse is busy (429), down or timed out (503, no answer): retry after ``retry_after_s``."""

    def __init__(self, message: str, status_code: int | None = None, retry_after_s: int = 1) -> None:
        super().__init__(message, status_code)
        self.retry_after_s = retry_after_s


class WarehouseReader:
    """Pages of a tenant's stored calls and events. ``transport`` replaces the network in unit tests."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        self._client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s, transport=transport)

    async def start(self) -> None:
        """Nothing to open: connections are made on the first read (a lifespan component's shape)."""

    async def stop(self) -> None:
        await self._client.aclose()

    async def page(self, tenant: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One page (``{"items": [...], "next_cursor": ...}``) of ``path`` for ``tenant``."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = await self._client.get(path, params=query, headers={TENANT_HEADER: tenant})
        except httpx.HTTPError as exc:
            raise WarehouseUnavailable(f"GET {path}: the warehouse did not answer ({type(exc).__name__})") from exc
        return _body(path, response)

    async def pages(
        self, tenant: str, path: str, params: Mapping[str, Any], *, max_items: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of ``path`` in the warehouse's order, stopping once ``max_items`` rows were yielded."""
        cursor: str | None = None
        remaining = max_items
        while remaining > 0:
            body = await self.page(tenant, path, {**params, "limit": min(PAGE_LIMIT, remaining), "cursor": cursor})
            items = body.get("items") or []
            remaining -= len(items)
            yield items
            cursor = body.get("next_cursor")
            if not cursor or not items:
                return


def _body(path: str, response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 200:
        body = response.json()
        if isinstance(body, dict):
            return body
        raise WarehouseError(f"GET {path}: the answer is not a JSON object", 200)
    detail = _detail(response)
    if response.status_code in (429, 503) or response.status_code >= 500:
        retry = response.headers.get("retry-after", "1")
        seconds = int(retry) if retry.isdigit() else 1
        raise WarehouseUnavailable(f"GET {path}: {response.status_code} {detail}", response.status_code, seconds)
    raise WarehouseError(f"GET {path}: {response.status_code} {detail}", response.status_code)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("detail") or body.get("title")) if isinstance(body, dict) else response.reason_phrase
