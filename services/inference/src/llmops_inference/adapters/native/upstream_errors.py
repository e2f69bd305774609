"""A provider's error answer in OpenAI's terms: status, ``{"error": {...}}`` body and ``retry-after`` header.

The OpenAI adapter above turns that answer into an :class:`~llmops_inference.domain.UpstreamError` as for any
OpenAI-compatible upstream, so what is retried, what falls back and what opens the circuit is decided in one
place (``UpstreamError.retryable``/``falls_back``/``upstream_fault``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core import to_json

from llmops_inference.adapters.http_transport import HttpAnswer
from llmops_inference.adapters.native.common import error_body

__all__ = ["MAX_ERROR_TEXT", "openai_error"]

MAX_ERROR_TEXT = 500
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(
    answer: HttpAnswer,
    statuses: Mapping[int, int],
    describe: Callable[[Any], str],
    retry_after: Callable[[Any], float | None] = lambda _: None,
) -> HttpAnswer:
    """``answer`` (a provider's error) as OpenAI's: its status through ``statuses``, the message ``describe``
    reads from its JSON body, and ``retry-after`` from the header or, failing that, from the body.
    """
    try:
        data = json.loads(answer.content)
    except ValueError:
        data = None
    status = statuses.get(answer.status, answer.status)
    message = describe(data)[:MAX_ERROR_TEXT]
    if status != answer.status:
        message = f"{message} (status {answer.status})"
    headers = {"content-type": "application/json"}
    seconds = answer.headers.get("retry-after") or _seconds(retry_after(data))
    if seconds:
        headers["retry-after"] = seconds
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return HttpAnswer(status, headers, to_json(error_body(message, kind, code=str(answer.status))))


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"
