"""What every service reads at its HTTP edge the same way: request bodies (bounded) and W3C trace context.

The app-wide body limit (:mod:`llmops_kit.http.body_limit`) refuses a bad or oversized ``Content-Length``
before any route runs; :func:`read_body` bounds a route's body again where the route allows less.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request

from llmops_kit.http.problems import ProblemError

__all__ = ["body_too_large", "read_body", "trace_id_of"]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_INVALID_VERSION = "ff"


def trace_id_of(traceparent: str | bytes | None) -> str | None:
    """The trace id of a W3C ``traceparent`` (an HTTP or Kafka header), or None if absent or invalid.

    Refused as the Trace Context spec says: version ``ff``, an all-zero trace id or parent id, a version
    ``00`` header with anything after the flags, anything not hex. Hex digits are read case-insensitively.
    """
    if isinstance(traceparent, bytes):
        traceparent = traceparent.decode("ascii", errors="replace")
    match = _TRACEPARENT.fullmatch(traceparent.strip().lower()) if traceparent else None
    if match is None:
        return None
    version, trace_id, parent_id, _, rest = match.groups()
    if version == _INVALID_VERSION or (version == "00" and rest) or not int(trace_id, 16) or not int(parent_id, 16):
        return None
    return trace_id


def body_too_large(limit: int) -> ProblemError:
    """The 413 problem every service answers for a body over ``limit`` bytes."""
    return ProblemError(413, "Content Too Large", f"the request body exceeds {limit} bytes", limit=limit)


async def read_body(request: Request, limit: int, too_large: Callable[[int], Exception] = body_too_large) -> bytes:
    """The body, refusing more than ``limit`` bytes: by ``Content-Length`` first, then while streaming.

    A lying ``Content-Length`` cannot make it buffer more than ``limit`` (the stream is counted too).
    ``too_large`` builds the error raised (a service with its own error shape passes its own).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)
