"""The judges' ports over the kit's platform clients: the gateway (service key) and the warehouse's calls.

Where a rubric's label points is read from the gateway's prompt registry (``GET /v1/prompts/{name}``) and
kept ``label_ttl_s`` seconds per tenant, prompt and label (at most ``max_labels`` entries), so a busy judge
does not ask for every call while a moved label still takes effect within seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from llmops_kit.platform_client import GatewayClient, PlatformCallError, WarehouseReader
from llmops_schemas.v2 import CallRecorded

__all__ = ["GatewayJudges", "WarehouseCalls"]

_CALL_FIELDS = frozenset(CallRecorded.model_fields)


class GatewayJudges:
    """:class:`~llmops_evaluation.ports.JudgeGateway` over the kit's :class:`GatewayClient`."""

    def __init__(self, gateway: GatewayClient, *, label_ttl_s: float = 10.0, max_labels: int = 1024) -> None:
        self._gateway = gateway
        self._ttl_s = label_ttl_s
        self._max = max_labels
        self._labels: OrderedDict[tuple[str, str, str], tuple[float, int | None]] = OrderedDict()

    async def chat(self, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._gateway.chat(tenant, body)

    async def prompt_version(self, tenant: str, name: str, label: str) -> int | None:
        key = (tenant, name, label)
        cached = self._labels.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        version = _label_version(await self._detail(tenant, name), label)
        self._labels[key] = (time.monotonic() + self._ttl_s, version)
        self._labels.move_to_end(key)
        while len(self._labels) > self._max:
            self._labels.popitem(last=False)
        return version

    async def has_version(self, tenant: str, name: str, version: int) -> bool:
        detail = await self._detail(tenant, name)
        return detail is not None and any(v.get("version") == version for v in detail.get("versions", []))

    async def models(self, tenant: str) -> list[str]:
        answer = await self._gateway.client.request("GET", "/v1/models", tenant)
        return [str(m["id"]) for m in answer.get("data", [])]

    async def _detail(self, tenant: str, name: str) -> dict[str, Any] | None:
        try:
            detail: dict[str, Any] = await self._gateway.client.request("GET", f"/v1/prompts/{name}", tenant)
        except PlatformCallError as exc:
            if exc.status == 404:
                return None
            raise
        return detail


def _label_version(detail: dict[str, Any] | None, label: str) -> int | None:
    """Where ``label`` points; the pseudo-label ``latest`` is the newest version unless a real label has that name."""
    if detail is None:
        return None
    for position in detail.get("labels", []):
        if position.get("label") == label:
            return int(position["version"])
    return int(detail["latest_version"]) if label == "latest" else None


class WarehouseCalls:
    """:class:`~llmops_evaluation.ports.CallHistory` over the kit's :class:`WarehouseReader`."""

    def __init__(self, reader: WarehouseReader) -> None:
        self._reader = reader

    async def call(self, tenant: str, call_id: str) -> CallRecorded | None:
        row = await self._reader.call(tenant, call_id)
        if row is None:
            return None
        return CallRecorded.model_validate({k: v for k, v in row.items() if k in _CALL_FIELDS})
