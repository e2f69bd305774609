"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}`` with OpenAI's status codes.

The kit answers ``application/problem+json``; OpenAI clients expect this shape instead, so the gateway's app
replaces the kit's exception handlers with :func:`install_openai_error_handlers` (other services keep theirs).
"""

from __future__ import annotations

import logging
import math
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from llmops_kit.logging import log_unexpected
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmops_inference.domain import UpstreamError

__all__ = [
    "GatewayError",
    "from_upstream",
    "from_validation",
    "install_openai_error_handlers",
    "openai_error_response",
]

log = logging.getLogger(__name__)
MAX_MESSAGE = 1000
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPES = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "json"})
_OWN_CODES = frozenset({"unsupported_parameter", "unsupported_content_type"})
"""Validation error types the request models raise themselves: the client's ``code`` (else ``invalid_value``)."""


class GatewayError(Exception):
    """Raise anywhere in a request to answer with an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message[:MAX_MESSAGE]
        self.type = type
        self.param = param
        self.code = code
        self.retry_after = retry_after

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


def openai_error_response(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


def from_validation(exc: ValidationError | RequestValidationError) -> GatewayError:
    """The first validation problem as a 400, naming the offending parameter like OpenAI does."""
    errors = exc.errors()
    if not errors:
        return GatewayError(400, "the request is not valid")
    first = errors[0]
    # pydantic adds the union member it tried ("str", "list[...]", "constrained-str") to the location,
    # which is not a name the client wrote: keep only field names and list positions.
    loc = [str(p) for p in first.get("loc", ()) if isinstance(p, int) or (_FIELD.match(str(p)) and p not in _TYPES)]
    param = ".".join(p for p in loc if p != "body") or None
    message = str(first.get("msg", "invalid value"))
    code = first["type"] if first.get("type") in _OWN_CODES else "invalid_value"
    return GatewayError(400, f"{param}: {message}" if param else message, param=param, code=code)


_UPSTREAM_STATUS = {"connect": 503, "unavailable": 503, "timeout": 504, "protocol": 502, "adapter": 502}


def from_upstream(exc: UpstreamError, model: str) -> GatewayError:
    """What the client sees when the last target of ``model`` failed."""
    if exc.kind == "status" and exc.param is not None:  # a feature the backend cannot do (ADR 0016)
        message = f"model {model!r}: {exc.message}"
        return GatewayError(exc.status or 400, message, param=exc.param, code="unsupported_parameter")
    if exc.kind == "status" and exc.status in {400, 413, 422}:
        return GatewayError(exc.status, exc.message, code="upstream_rejected")
    if exc.kind == "status" and exc.status == 429:
        retry = exc.retry_after if exc.retry_after is not None else 1.0
        return GatewayError(
            429,
            f"the upstream of {model!r} is rate limited",
            type="requests",
            code="rate_limit_exceeded",
            retry_after=retry,
        )
    if exc.kind == "status" and exc.status == 503:  # overloaded (Anthropic's 529 too): try again later
        message = f"the upstream of {model!r} is unavailable: {exc.message}"
        return GatewayError(503, message, type="server_error", code="upstream_unavailable", retry_after=exc.retry_after)
    if exc.kind == "status":
        return GatewayError(
            502, f"the upstream of {model!r} failed: {exc.message}", type="server_error", code="bad_gateway"
        )
    status = _UPSTREAM_STATUS[exc.kind]
    code = {503: "upstream_unavailable", 504: "upstream_timeout", 502: "bad_gateway"}[status]
    retry_after = exc.retry_after if status == 503 else None
    return GatewayError(status, f"{model!r}: {exc.message}", type="server_error", code=code, retry_after=retry_after)


_HTTP_TYPES = {
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "insufficient_permissions"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}


def install_openai_error_handlers(app: FastAPI) -> None:
    """Make every error this app answers OpenAI-shaped (replacing the kit's problem+json handlers)."""

    async def on_gateway(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        return openai_error_response(exc)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind, code = _HTTP_TYPES.get(
            exc.status_code, ("server_error" if exc.status_code >= 500 else "invalid_request_error", None)
        )
        message = str(exc.detail)
        if exc.status_code == 401:
            message = "Incorrect or missing API key: send Authorization: Bearer <key>"
        error = GatewayError(exc.status_code, message, type=kind, code=code)
        return JSONResponse(error.body(), status_code=exc.status_code, headers=dict(exc.headers or {}))

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return openai_error_response(from_validation(exc))

    async def on_unhandled(_: Request, exc: Exception) -> JSONResponse:
        # No internals to the client (messages can carry connection strings), nor in the log: its class and
        # frames, not its message (which can quote prompts or upstream data).
        log_unexpected(log, "unhandled error", exc)
        return openai_error_response(GatewayError(500, "an unexpected error occurred", type="server_error"))

    app.add_exception_handler(GatewayError, on_gateway)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unhandled)
