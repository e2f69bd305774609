"""A fake warehouse query API (``httpx.MockTransport``): stored rows per table, keyset-like pages, tenant header."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from llmops_kit.platform_client import PlatformClient, WarehouseReader

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
GATEWAY = "/services/inference"


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


class FakeWarehouse:
    """Rows by tenant and table; filters on the parameters the real API has; every request is kept."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.requests: list[httpx.Request] = []
        self.fail_with: int | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def experiment(self, tenant: str, experiment_id: str, **fields: Any) -> None:
        data = {
            "experiment_id": experiment_id,
            "name": experiment_id,
            "app": "support-bot",
            "kind": "ab",
            "status": "running",
            "control": "a",
            "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}],
            "version": 1,
            "updated_by": "admin",
            "updated_at": iso(0),
            **fields,
        }
        self.rows[(tenant, "experiments")].insert(0, {"time": iso(0), "deleted": False, "data": data})

    def call(self, tenant: str, call_id: str, variant: str | None, at: float, **fields: Any) -> None:
        experiment = {"experiment_id": "exp", "variant": variant, "shadow": False} if variant else None
        row = {"call_id": call_id, "started_at": iso(at), "status": "ok", "latency_ms": 100.0, "origin": "application",
               "source": GATEWAY, "experiment": experiment, **fields}  # fmt: skip
        self.rows[(tenant, "calls")].append(row)

    def event(self, tenant: str, table: str, at: float, data: dict[str, Any]) -> None:
        self.rows[(tenant, table)].append({"time": iso(at), "deleted": False, "data": data})

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_with is not None:
            return httpx.Response(self.fail_with, json={"detail": "busy"}, headers={"Retry-After": "3"})
        tenant = request.headers["X-LLMOps-Tenant"]
        path = request.url.path
        table = "calls" if path == "/v1/calls" else path.removeprefix("/v1/events/")
        params = dict(request.url.params)
        rows = [r for r in self.rows[(tenant, table)] if _matches(r, params)]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit", 100))
        page = rows[start : start + limit]
        cursor = str(start + limit) if start + limit < len(rows) else None
        return httpx.Response(200, content=json.dumps({"items": page, "next_cursor": cursor}))


def _matches(row: dict[str, Any], params: dict[str, str]) -> bool:
    data = row.get("data", row)
    if "experiment_id" in params:
        ref = data.get("experiment") or {"experiment_id": data.get("experiment_id")}
        if ref.get("experiment_id") != params["experiment_id"]:
            return False
    if params.get("origin") in ("application", "platform") and row.get("origin") != params["origin"]:
        return False
    if "app" in params and data.get("app") != params["app"]:
        return False
    return "start" not in params or row.get("time", row.get("started_at", "")) >= params["start"][:19]


async def started_reader(transport: httpx.AsyncBaseTransport) -> WarehouseReader:
    """The kit's warehouse reader over ``transport``, started, one attempt per request (no retry waits)."""
    client = PlatformClient("warehouse", "http://warehouse", "service-key", transport=transport, attempts=1)
    await client.start()
    return WarehouseReader(client)
