"""Errors in Anthropic's shape, ``{"type": "error", "error": {"type", "message"}}``, with Anthropic's statuses.

The gateway's own errors (:class:`GatewayError`, OpenAI's statuses) are translated: 502 (the upstream failed)
is Anthropic's 500 ``api_error``, 503 (no upstream available) its 529 ``overloaded_error``, 422 (a prompt
extension that cannot be rendered) a 400; every other status keeps its number and gets Anthropic's type for it.
``Retry-After`` is kept. The Claude SDK retries 429, 500, 504 and 529 as it does against Anthropic's API.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from llmops_kit.logging import log_unexpected
from starlette.exceptions import HTTPException
from starlette.responses import Response

from llmops_inference.errors import GatewayError

__all__ = ["anthropic_error_response", "error_body", "from_http", "install_anthropic_error_handlers", "stream_error"]

log = logging.getLogger(__name__)

STATUS = {422: 400, 502: 500, 503: 529}
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STREAM_TYPES = {"timeout": "timeout_error", "connect": "overloaded_error", "unavailable": "overloaded_error"}
"""A mid-stream failure's ``code`` (the upstream failure's kind) -> Anthropic's type; others are ``api_error``."""
AUTH_MESSAGE = "Incorrect or missing API key: send x-api-key: <key> (or Authorization: Bearer <key>)"


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def anthropic_error_response(error: GatewayError) -> JSONResponse:
    """The answer to a request the gateway refused or could not serve."""
    status = STATUS.get(error.status, error.status)
    kind = TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return JSONResponse(error_body(kind, error.message), status_code=status, headers=error.headers())


def from_http(exc: HTTPException) -> GatewayError:
    """The kit's authentication errors (401, 403, a service key's missing tenant) as a gateway error."""
    message = AUTH_MESSAGE if exc.status_code == 401 else str(exc.detail)
    retry = (exc.headers or {}).get("Retry-After")
    return GatewayError(exc.status_code, message, retry_after=float(retry) if retry else None)


def stream_error(error: Any) -> dict[str, Any]:
    """The ``error`` event of a stream the gateway's chunk ``{"error": {...}}`` ended."""
    error = error if isinstance(error, dict) else {}
    kind = STREAM_TYPES.get(str(error.get("code")), "api_error")
    return error_body(kind, str(error.get("message") or "the stream failed"))


def install_anthropic_error_handlers(app: FastAPI, path: str) -> None:
    """Errors answered outside the route on ``path`` (a method it does not allow, a bug) in Anthropic's shape too;
    every other path keeps the app's handlers (install after them)."""
    on_http, on_unhandled = app.exception_handlers[HTTPException], app.exception_handlers[Exception]

    async def http(request: Request, exc: Exception) -> Response:
        if request.scope.get("path") != path or not isinstance(exc, HTTPException):
            return await _delegate(on_http, request, exc)
        answer = anthropic_error_response(from_http(exc))
        answer.headers.update(exc.headers or {})
        return answer

    async def unhandled(request: Request, exc: Exception) -> Response:
        if request.scope.get("path") != path:
            return await _delegate(on_unhandled, request, exc)
        log_unexpected(log, "unhandled error", exc)  # its class and frames only: messages can quote prompts
        return anthropic_error_response(GatewayError(500, "an unexpected error occurred", type="server_error"))

    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, unhandled)


async def _delegate(
    handler: Callable[[Request, Exception], Response | Awaitable[Response]], request: Request, exc: Exception
) -> Response:
    answer = handler(request, exc)
    return await answer if inspect.isawaitable(answer) else answer
