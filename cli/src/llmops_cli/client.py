"""A small HTTP client for the platform's public APIs (ingest and warehouse)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import httpx

from llmops_cli.config import CliConfig

__all__ = ["ApiError", "PlatformClient"]

_HINTS = {
    401: "pass --api-key, set LLMOPS_API_KEY, or run `llmops up`, which writes a development key",
    403: "this key's role may not do that (reader: read only; ingest: write only)",
}


class ApiError(RuntimeError):
    """The platform answered with an error, or could not be reached; the message says which and why."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class PlatformClient:
    """Calls ingest and the warehouse with the configured API key.

    ``transport`` replaces the network (tests pass an ``httpx.MockTransport``).
    """

    def __init__(
        self, config: CliConfig, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self.config = config
        self._ingest = httpx.Client(base_url=config.ingest_url, headers=headers, timeout=timeout_s, transport=transport)
        self._warehouse = httpx.Client(
            base_url=config.warehouse_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._ingest.close()
        self._warehouse.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_calls(self, calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """POST one batch to ingest; returns ``{"accepted": [...], "rejected": [{index, errors}]}``.

        Ingest answers 422 with ``rejected`` when every record of a batch was rejected: that is still a
        per-record answer, not an error.
        """
        response = _request(self._ingest, "POST", "/v1/calls", json={"calls": list(calls)})
        if response.status_code == 422:
            body = _body(response)
            if isinstance(body, dict) and isinstance(body.get("rejected"), list):
                return {"accepted": [], "rejected": body["rejected"]}
        return _json(response)

    def list_calls(self, **params: Any) -> dict[str, Any]:
        """A page of calls: ``{"items": [CallRow...], "next_cursor": str | None}``."""
        return _json(_request(self._warehouse, "GET", "/v1/calls", params=_clean(params)))

    def get_call(self, call_id: str) -> dict[str, Any]:
        return _json(_request(self._warehouse, "GET", f"/v1/calls/{call_id}"))

    def summary(self, **params: Any) -> dict[str, Any]:
        """``{"start", "end", "items": [SummaryRow...]}``."""
        return _json(_request(self._warehouse, "GET", "/v1/metrics/summary", params=_clean(params)))

    def timeseries(self, **params: Any) -> dict[str, Any]:
        """``{"start", "end", "step_seconds", "items": [TimeseriesPoint...]}``."""
        return _json(_request(self._warehouse, "GET", "/v1/metrics/timeseries", params=_clean(params)))


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        raise ApiError(f"{method} {client.base_url.join(path)}: no answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise ApiError(
            f"cannot reach {client.base_url}: {exc or type(exc).__name__} (is the platform running? `llmops up`)"
        ) from exc


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    request = f"{response.request.method} {response.request.url.path}"
    body = _body(response)
    if response.status_code >= 400:
        detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
        message = f"{request}: {response.status_code} {detail or response.text.strip() or response.reason_phrase}"
        if hint := _HINTS.get(response.status_code):
            message += f" ({hint})"
        raise ApiError(message, response.status_code)
    if body is None:
        raise ApiError(f"{request}: {response.status_code} answer is not JSON", response.status_code)
    return body if isinstance(body, dict) else {"items": body}
