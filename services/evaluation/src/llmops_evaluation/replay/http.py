"""HTTP API of replays: ``/v1/replays``.

Reads need ``calls:read``, starting and cancelling ``admin``; the tenant is always the caller's. The routes find
the :class:`~llmops_evaluation.replay.manager.ReplayManager` on ``app.state.replay_manager`` (503 while none).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v1 import ReplayCheckpointed
from pydantic import BaseModel

from llmops_evaluation.replay.manager import ReplayManager
from llmops_evaluation.replay.spec import ReplaySpec

__all__ = ["STATE_KEY", "router"]

STATE_KEY = "replay_manager"

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such replay, or no such evaluator to replay",
        409: "A replay with this id exists",
        413: "The body is larger than the service accepts",
        422: "The replay's range or an evaluator's kind or parameters are not valid",
        429: "The tenant has as many replays running as it may",
        503: "Replays are loading or not configured here, or Kafka did not store the change",
    }.items()
}


def _manager(request: Request) -> ReplayManager:
    manager = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(manager, ReplayManager):
        raise ProblemError(
            503, "Service Unavailable", "replays are not enabled on this replica", headers={"Retry-After": "30"}
        )
    return manager


Manager = Annotated[ReplayManager, Depends(_manager)]
Reader = Annotated[Principal, Depends(requires("calls:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
ReplayId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]

router = APIRouter(tags=["replays"], responses=PROBLEMS)


class ReplayList(BaseModel):
    """The caller's replays, newest first."""

    items: list[ReplayCheckpointed]


@router.post(
    "/v1/replays",
    status_code=201,
    response_model=ReplayCheckpointed,
    summary="Start a replay",
    responses={400: {"description": "The body is not JSON", "content": {"application/problem+json": {}}}},
)
async def start_replay(spec: ReplaySpec, caller: Admin, manager: Manager, request: Request) -> ReplayCheckpointed:
    """Re-score stored calls (a time range from the warehouse, or offset ranges of ``llmops.calls.recorded``)
    with configured evaluators as they are now, or new ones; the scores carry ``replay_id`` and stand beside the
    online ones. Audited. Progress: ``GET /v1/replays/{replay_id}``."""
    return await manager.create(caller.tenant_id, spec, Actor.of(caller, request))


@router.get("/v1/replays", response_model=ReplayList, summary="List replays")
async def list_replays(caller: Reader, manager: Manager) -> ReplayList:
    """The tenant's replays with their status and progress, newest first."""
    return ReplayList(items=manager.replays(caller.tenant_id))


@router.get("/v1/replays/{replay_id}", response_model=ReplayCheckpointed, summary="One replay's progress")
async def get_replay(replay_id: ReplayId, caller: Reader, manager: Manager) -> ReplayCheckpointed:
    """Status, calls read (``processed``) and judged (``scored``), of ``expected`` where known, as of its last
    checkpoint."""
    return manager.get(caller.tenant_id, replay_id)


@router.post("/v1/replays/{replay_id}/cancel", response_model=ReplayCheckpointed, summary="Cancel a replay")
async def cancel_replay(replay_id: ReplayId, caller: Admin, manager: Manager, request: Request) -> ReplayCheckpointed:
    """Stop a running replay where it is (its scores so far stay); a finished one is returned unchanged. Audited."""
    return await manager.cancel(caller.tenant_id, replay_id, Actor.of(caller, request))


@router.api_route("/v1/replays", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False)
async def other_methods() -> Response:
    """405 naming both methods of the path (Starlette's own would name only the first route's)."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "GET, POST"})
