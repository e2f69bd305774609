"""HTTP API of the drift-detection service: the caller's tenant's open windows (``GET /v1/drift/windows``).

Reports themselves are events (``llmops.drift.reported.v2``), read from the warehouse (``GET
/v1/events/drift_reports``); this route shows what the worker holds now. Needs ``metrics:read``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError
from pydantic import BaseModel

__all__ = ["WINDOWS", "OpenWindow", "router"]

WINDOWS = "drift_windows"
MAX_WINDOWS = 1000
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        422: "A parameter is not valid",
        503: "The worker is starting",
    }.items()
}


class OpenWindow(BaseModel):
    """A window the worker holds: its scope, bounds and the calls kept so far."""

    app: str
    environment: str
    model: str
    prompt_name: str | None
    prompt_version: int | None
    start: datetime
    end: datetime
    calls: int


OpenWindows = Callable[[str, int], list[OpenWindow]]
"""The open windows of a tenant, at most ``limit``, oldest first."""


def _windows(request: Request) -> OpenWindows:
    found = getattr(request.app.state, WINDOWS, None)
    if found is None:
        raise ProblemError(503, "Service Unavailable", "the drift-detection worker is starting")
    windows: OpenWindows = found
    return windows


Reader = Annotated[Principal, Depends(requires("metrics:read"))]
router = APIRouter(tags=["drift"], responses=PROBLEMS)


@router.get("/v1/drift/windows", response_model=list[OpenWindow])
async def open_windows(
    principal: Reader,
    windows: Annotated[OpenWindows, Depends(_windows)],
    limit: Annotated[int, Query(ge=1, le=MAX_WINDOWS)] = 100,
) -> list[OpenWindow]:
    """The caller's tenant's open windows (scope, bounds, calls held), oldest first, at most ``limit``."""
    return windows(principal.tenant_id, limit)
