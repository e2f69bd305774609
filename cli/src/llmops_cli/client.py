"""A small HTTP client for the platform's public APIs (ingest and warehouse)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from llmops_cli.config import CliConfig

__all__ = ["ApiError", "PlatformClient"]


class ApiError(RuntimeError):
    """The platform answered with an error; the message is the problem document's detail."""


class PlatformClient:
    """Calls ingest and the warehouse with the configured API key."""

    def __init__(self, config: CliConfig, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._ingest = httpx.Client(base_url=config.ingest_url, headers=headers, timeout=timeout_s)
        self._warehouse = httpx.Client(base_url=config.warehouse_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._ingest.close()
        self._warehouse.close()

    def send_calls(self, calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """POST one batch to ingest; returns accepted and rejected records.

        Ingest answers 422 when every record of a batch was rejected; that is still a per-record answer.
        """
        response = self._ingest.post("/v1/calls", json={"calls": list(calls)})
        if response.status_code == 422 and "rejected" in (body := response.json()):
            return {"accepted": [], "rejected": body["rejected"]}
        return _json(response)

    def list_calls(self, **params: Any) -> dict[str, Any]:
        return _json(self._warehouse.get("/v1/calls", params=_clean(params)))

    def get_call(self, call_id: str) -> dict[str, Any]:
        return _json(self._warehouse.get(f"/v1/calls/{call_id}"))

    def summary(self, **params: Any) -> dict[str, Any]:
        return _json(self._warehouse.get("/v1/metrics/summary", params=_clean(params)))

    def timeseries(self, **params: Any) -> dict[str, Any]:
        return _json(self._warehouse.get("/v1/metrics/timeseries", params=_clean(params)))


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = body.get("detail") or body
        except ValueError:
            detail = response.text
        raise ApiError(f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}")
    data = response.json()
    return data if isinstance(data, dict) else {"items": data}
