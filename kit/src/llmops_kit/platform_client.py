"""How one platform service calls another over HTTP: with its service key, for one tenant per request.

The evaluation and feedback services read history through the warehouse's query API (calls, scores,
feedback) and send platform traffic through the gateway (judge calls, embeddings, offline runs). Both go
through :class:`PlatformClient`: the service key in ``Authorization``, the tenant the request acts for in
:data:`~llmops_kit.auth.TENANT_HEADER` (a service key spans tenants and must name one, docs/adr/0007), a bound
on requests in flight, a timeout on each, bounded retries of what is worth retrying (connection errors, 429,
502-504) and a :class:`PlatformCallError` that says which service answered what. The gateway marks calls made
with a service key as ``origin: platform``, so the platform's own traffic is never mistaken for an
application's.

:class:`WarehouseReader`, :class:`GatewayClient` and :class:`EvaluationClient` (offline runs, started by the
drift-detection service's judge-drift monitors) are the uses, thin and typed; tests inject an
``httpx`` transport (``httpx.ASGITransport`` over the real app, or ``httpx.MockTransport``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from llmops_kit.auth import TENANT_HEADER
from llmops_kit.settings import ServiceSettings
from llmops_kit.warehouse import PAGE_LIMIT, HistoryError, HistoryRows, HistoryUnavailable

__all__ = [
    "ErasedCallsPage",
    "EvaluationClient",
    "GatewayClient",
    "PlatformCallError",
    "PlatformClient",
    "WarehouseReader",
    "evaluation_client",
    "gateway_client",
    "warehouse_reader",
]

_RETRIED_STATUSES = frozenset({429, 502, 503, 504})
_MAX_DETAIL = 512


@dataclass(frozen=True, slots=True)
class ErasedCallsPage:
    """One page of the calls the warehouse erased for an erasure request; ``next_cursor`` None on the last."""

    call_ids: list[str]
    next_cursor: str | None


class PlatformCallError(RuntimeError):
    """Another service refused or failed a request: ``status`` is its HTTP status (0: no answer at all)."""

    def __init__(self, service: str, status: int, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(f"{service} answered {status}: {detail}" if status else f"{service} unreachable: {detail}")
        self.service = service
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s
        """When to try again, from the answer's ``Retry-After`` (5 s without one)."""

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (no answer, rate limited, or the service unavailable)."""
        return self.status == 0 or self.status in _RETRIED_STATUSES


class PlatformClient:
    """An HTTP client of one platform service, acting for a tenant per request with a service key.

    ``max_in_flight`` bounds concurrent requests (callers wait for a slot: back-pressure, not a queue that
    grows); ``attempts`` bounds tries per request. Start and stop it with the owning app's lifespan.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        max_in_flight: int = 16,
        attempts: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.service = service
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout_s)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._attempts = attempts
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Open the connection pool."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                timeout=self._timeout,
                transport=self._transport,
                headers={"Authorization": f"Bearer {self._api_key}"},
            )

    async def stop(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(
        self, method: str, path: str, tenant: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        """The JSON answer of ``method path`` for ``tenant``; :class:`PlatformCallError` when it fails."""
        if self._client is None:
            raise RuntimeError(f"the {self.service} client is not started")
        client = self._client
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(initial=0.1, max=2.0),
            retry=retry_if_exception(lambda e: isinstance(e, PlatformCallError) and e.retryable),
            reraise=True,
        ):
            with attempt:
                async with self._slots:
                    return await self._once(client, method, path, tenant, query, body)
        raise AssertionError("unreachable: tenacity re-raises the last failure")  # pragma: no cover

    async def _once(
        self, client: httpx.AsyncClient, method: str, path: str, tenant: str, query: dict[str, Any], body: Any
    ) -> Any:
        try:
            response = await client.request(method, path, params=query, json=body, headers={TENANT_HEADER: tenant})
        except httpx.HTTPError as exc:
            raise PlatformCallError(self.service, 0, type(exc).__name__) from exc
        if response.status_code >= 400:
            retry_after = _retry_after(response.headers.get("retry-after"))
            raise PlatformCallError(self.service, response.status_code, _detail(response), retry_after)
        return response.json()

    async def pages(
        self, path: str, tenant: str, params: Mapping[str, Any] | None = None, *, page_size: int = 1000
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paginated read (``items`` and ``next_cursor``), page by page."""
        cursor: str | None = None
        while True:
            page = await self.request(
                "GET", path, tenant, params={**(params or {}), "limit": page_size, "cursor": cursor}
            )
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return


class WarehouseReader:
    """History through the warehouse's query API: calls and stored events of one tenant, newest first.

    Also the HTTP :class:`~llmops_kit.warehouse.HistoryReader` (:meth:`read`: a bounded read that says when
    it stopped at its bound). A lifespan component: it starts and stops its client.
    """

    def __init__(self, client: PlatformClient) -> None:
        self.client = client

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.stop()

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows:
        """At most ``max_rows`` events of ``table`` (``truncated`` when more matched); the warehouse unable to
        answer now is :class:`HistoryUnavailable`, a refused read :class:`HistoryError`."""
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": min(PAGE_LIMIT, max_rows - len(rows) + 1), "cursor": cursor}
            try:
                page = await self.client.request("GET", f"/v1/events/{table}", tenant, params=query)
            except PlatformCallError as exc:
                if exc.retryable:
                    raise HistoryUnavailable(f"the warehouse could not answer: {exc}", exc.retry_after_s) from None
                raise HistoryError(f"the warehouse refused to read {table}: {exc.status} {exc.detail}") from None
            except RuntimeError as exc:  # not started
                raise HistoryUnavailable(str(exc)) from None
            rows.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            if len(rows) > max_rows:
                return HistoryRows(rows[:max_rows], truncated=True)
            if not cursor:
                return HistoryRows(rows, truncated=False)

    def calls(self, tenant: str, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Calls matching ``filters`` (``GET /v1/calls``: app, model, start, end, experiment_id, origin, ...)."""
        return self.client.pages("/v1/calls", tenant, filters)

    async def calls_page(
        self, tenant: str, *, cursor: str | None = None, limit: int = 1000, **filters: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of :meth:`calls` and the cursor of the next (None: the last page), for a reader that
        checkpoints where it is (a replay resumes from the cursor it stored)."""
        page = await self.client.request(
            "GET", "/v1/calls", tenant, params={**filters, "limit": limit, "cursor": cursor}
        )
        return page["items"], page.get("next_cursor")

    async def call(self, tenant: str, call_id: str) -> dict[str, Any] | None:
        """One call by id, or None when the tenant has no such call (yet)."""
        try:
            found: dict[str, Any] = await self.client.request("GET", f"/v1/calls/{call_id}", tenant)
        except PlatformCallError as exc:
            if exc.status == 404:
                return None
            raise
        return found

    async def metrics_summary(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        """Call metrics over a window (``GET /v1/metrics/summary``: start, end, group_by, app, model, origin)."""
        found: dict[str, Any] = await self.client.request("GET", "/v1/metrics/summary", tenant, params=params)
        items: list[dict[str, Any]] = found.get("items") or []
        return items

    async def metrics_timeseries(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        """Call metrics per bucket (``GET /v1/metrics/timeseries``: start, end, step_seconds, group_by, app...)."""
        found: dict[str, Any] = await self.client.request("GET", "/v1/metrics/timeseries", tenant, params=params)
        items: list[dict[str, Any]] = found.get("items") or []
        return items

    async def erased_calls(
        self, tenant: str, request_id: str, *, cursor: str | None = None, limit: int = 1000
    ) -> ErasedCallsPage | None:
        """One page of the calls the warehouse erased for an erasure request (``GET
        /v1/erasures/{request_id}/calls``), or None while it has not processed the request (404)."""
        try:
            page = await self.client.request(
                "GET", f"/v1/erasures/{quote(request_id, safe='')}/calls", tenant,
                params={"cursor": cursor, "limit": limit},
            )  # fmt: skip
        except PlatformCallError as exc:
            if exc.status == 404:
                return None
            raise
        return ErasedCallsPage([str(c) for c in page["call_ids"]], page.get("next_cursor") or None)

    def events(self, tenant: str, table: str, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Stored events of ``table`` (``GET /v1/events/{table}``: start, end and the table's filters)."""
        return self.client.pages(f"/v1/events/{table}", tenant, filters)


class GatewayClient:
    """Platform traffic through the gateway: chat completions and embeddings, as the OpenAI API has them."""

    def __init__(self, client: PlatformClient) -> None:
        self.client = client

    async def chat(self, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/chat/completions`` (non-streaming); the answer as the gateway returned it."""
        answer: dict[str, Any] = await self.client.request("POST", "/v1/chat/completions", tenant, body=dict(body))
        return answer

    async def embeddings(self, tenant: str, model: str, texts: list[str]) -> list[list[float]]:
        """One embedding per text, in order (``POST /v1/embeddings``)."""
        answer = await self.client.request("POST", "/v1/embeddings", tenant, body={"model": model, "input": texts})
        rows = sorted(answer["data"], key=lambda row: row["index"])
        return [row["embedding"] for row in rows]


class EvaluationClient:
    """Offline runs of the evaluation service (docs/evaluation.md#datasets-and-offline-runs): start one, read its
    state, and compare two per example. A lifespan component: it starts and stops its client."""

    def __init__(self, client: PlatformClient) -> None:
        self.client = client

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.stop()

    async def start_run(self, tenant: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/runs`` (dataset, dataset_version, variant, evaluators or inline); the run as started."""
        run: dict[str, Any] = await self.client.request("POST", "/v1/runs", tenant, body=dict(spec))
        return run

    async def run(self, tenant: str, run_id: str) -> dict[str, Any]:
        """``GET /v1/runs/{run_id}``: status (running, completed, failed, cancelled) and progress."""
        run: dict[str, Any] = await self.client.request("GET", f"/v1/runs/{quote(run_id, safe='')}", tenant)
        return run

    async def compare(self, tenant: str, baseline: str, candidate: str, *, examples: int) -> dict[str, Any]:
        """``GET /v1/runs/compare``: per metric, and per example the two runs' scores (at most ``examples`` rows).
        409 while a run is running, 503 (retryable) while the warehouse has not stored all their scores."""
        params = {"baseline": baseline, "candidate": candidate, "examples": examples}
        found: dict[str, Any] = await self.client.request("GET", "/v1/runs/compare", tenant, params=params)
        return found


def warehouse_reader(settings: ServiceSettings, **options: Any) -> WarehouseReader | None:
    """The warehouse reader ``LLMOPS_WAREHOUSE_URL`` and ``LLMOPS_SERVICE_KEY`` configure; None without both."""
    client = _client("warehouse", settings.warehouse_url, settings, options)
    return WarehouseReader(client) if client else None


def gateway_client(settings: ServiceSettings, **options: Any) -> GatewayClient | None:
    """The gateway client ``LLMOPS_GATEWAY_URL`` and ``LLMOPS_SERVICE_KEY`` configure; None without both."""
    client = _client("gateway", settings.gateway_url, settings, options)
    return GatewayClient(client) if client else None


def evaluation_client(settings: ServiceSettings, **options: Any) -> EvaluationClient | None:
    """The evaluation client ``LLMOPS_EVALUATION_URL`` and ``LLMOPS_SERVICE_KEY`` configure; None without both."""
    client = _client("evaluation", settings.evaluation_url, settings, options)
    return EvaluationClient(client) if client else None


def _client(service: str, url: str | None, settings: ServiceSettings, options: dict[str, Any]) -> PlatformClient | None:
    if not url or settings.service_key is None:
        return None
    return PlatformClient(service, url, settings.service_key.get_secret_value(), **options)


def _retry_after(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 5
    except ValueError:
        return 5


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _detail(response: httpx.Response) -> str:
    """The problem's ``detail`` when the answer is problem+json, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:_MAX_DETAIL]
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail if detail is not None else body)[:_MAX_DETAIL]
