"""Fakes of the warehouse's erased-calls listing: in memory, and as its HTTP route over ``httpx.MockTransport``."""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx
from llmops_kit.platform_client import ErasedCallsPage


class FakeErasedCalls:
    """The :class:`~llmops_kit.erasure.ErasedCalls` port in memory; every read is kept in ``reads``."""

    def __init__(self) -> None:
        self.erased: dict[tuple[str, str], list[str]] = {}
        self.reads: list[tuple[str, str, str | None]] = []

    def seed(self, tenant: str, request_id: str, call_ids: list[str]) -> None:
        self.erased[(tenant, request_id)] = list(call_ids)

    async def erased_calls(
        self, tenant: str, request_id: str, *, cursor: str | None = None, limit: int = 1000
    ) -> ErasedCallsPage | None:
        self.reads.append((tenant, request_id, cursor))
        found = self.erased.get((tenant, request_id))
        if found is None:
            return None
        start = int(cursor or 0)
        more = start + limit < len(found)
        return ErasedCallsPage(found[start : start + limit], str(start + limit) if more else None)


class ErasedCallsRoute:
    """``GET /v1/erasures/{request_id}/calls`` as the warehouse answers it (404 until processed)."""

    def __init__(self) -> None:
        self.erased = FakeErasedCalls()
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        parts = request.url.raw_path.decode().split("?")[0].split("/")
        if parts[1:3] != ["v1", "erasures"] or parts[4:] != ["calls"]:
            return httpx.Response(404, json={"detail": "no such route"})
        request_id, tenant = unquote(parts[3]), request.headers["X-LLMOps-Tenant"]
        found = self.erased.erased.get((tenant, request_id))
        if found is None:
            return httpx.Response(404, json={"detail": f"erasure {request_id!r} is not processed"})
        start, limit = int(request.url.params.get("cursor") or 0), int(request.url.params["limit"])
        more = start + limit < len(found)
        body = {"request_id": request_id, "call_ids": found[start : start + limit],
                "next_cursor": str(start + limit) if more else None}  # fmt: skip
        return httpx.Response(200, content=json.dumps(body))
