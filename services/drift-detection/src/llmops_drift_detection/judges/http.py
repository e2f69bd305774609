"""HTTP API of judge-drift monitors: ``/v1/drift/judges`` (list, read, create or replace, remove, check now).

Reading needs ``metrics:read``, writing ``admin``; the tenant is always the caller's. Every write publishes the
monitor on ``llmops.drift.judges`` with its audit entry in the same batch. The checks' reports are drift reports
(``llmops.drift.reported.v2`` with a ``judge`` block), read from the warehouse (``GET /v1/events/drift_reports``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError
from llmops_schemas.v1 import JudgeMonitorConfigured
from pydantic import BaseModel

from llmops_drift_detection.judges.monitors import MonitorRegistry, MonitorSpec
from llmops_drift_detection.judges.scheduler import JudgeScheduler

__all__ = ["MONITORS", "SCHEDULER", "judges_router"]

MONITORS = "judge_monitors"
SCHEDULER = "judge_scheduler"
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or an unknown API key", **_PROBLEM},
    403: {"description": "The key's role lacks the permission", **_PROBLEM},
    422: {"description": "A parameter or the body is not valid", **_PROBLEM},
    503: {"description": "The monitors are loading, or Kafka did not take the change", **_PROBLEM},
}
MonitorId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Reader = Annotated[Principal, Depends(requires("metrics:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


def _registry(request: Request) -> MonitorRegistry:
    found = getattr(request.app.state, MONITORS, None)
    if not isinstance(found, MonitorRegistry):
        raise ProblemError(503, "Service Unavailable", "the judge monitors are starting")
    return found


def _scheduler(request: Request) -> JudgeScheduler:
    found = getattr(request.app.state, SCHEDULER, None)
    if not isinstance(found, JudgeScheduler):
        raise ProblemError(503, "Service Unavailable", "the judge-drift checks are starting")
    return found


Registry = Annotated[MonitorRegistry, Depends(_registry)]
Scheduler = Annotated[JudgeScheduler, Depends(_scheduler)]
judges_router = APIRouter(tags=["judge drift"], responses=PROBLEMS)


# The caller comes first in every route: a key is checked (401/403) before the monitors' availability (503).


class MonitorList(BaseModel):
    """The tenant's judge monitors, by id."""

    items: list[JudgeMonitorConfigured]


class CheckStarted(BaseModel):
    """A check started now (``started``: by this replica; false: asked of the replica that checks the monitor, at
    its next tick); its report follows on ``llmops.drift.reports``."""

    monitor_id: str
    started: bool


@judges_router.get("/v1/drift/judges", response_model=MonitorList, summary="List judge monitors")
async def list_monitors(caller: Reader, registry: Registry) -> MonitorList:
    """The tenant's judge-drift monitors (anchor set, variant, judge, interval, baseline run), by id."""
    return MonitorList(items=registry.of(caller.tenant_id))


@judges_router.get("/v1/drift/judges/{monitor_id}", response_model=JudgeMonitorConfigured, summary="One monitor")
async def get_monitor(caller: Reader, monitor_id: MonitorId, registry: Registry) -> JudgeMonitorConfigured:
    """One monitor; 404 when the tenant has none by that id."""
    return registry.get(caller.tenant_id, monitor_id)


@judges_router.put(
    "/v1/drift/judges/{monitor_id}",
    response_model=JudgeMonitorConfigured,
    status_code=201,
    summary="Create or replace a judge monitor",
    responses={
        200: {"description": "Replaced", "model": JudgeMonitorConfigured},
        409: {"description": "The tenant has as many monitors as it may", **_PROBLEM},
    },
)
async def put_monitor(
    caller: Admin, monitor_id: MonitorId, spec: MonitorSpec, registry: Registry, request: Request, response: Response
) -> JudgeMonitorConfigured:
    """Create (201) or replace (200) the monitor: the anchor set (a pinned dataset version of the evaluation
    service), the variant that answers it, the judge that re-scores it, how often, and when a move is drift. A
    replaced monitor keeps no baseline unless the body pins one. 409 past the tenant's limit. Audited."""
    monitor, created = await registry.put(caller.tenant_id, monitor_id, spec, Actor.of(caller, request))
    response.status_code = 201 if created else 200
    return monitor


@judges_router.delete(
    "/v1/drift/judges/{monitor_id}", status_code=204, response_class=Response, summary="Remove a judge monitor"
)
async def delete_monitor(caller: Admin, monitor_id: MonitorId, registry: Registry, request: Request) -> Response:
    """Remove the monitor (404 when none); a check under way still reports. Audited."""
    await registry.delete(caller.tenant_id, monitor_id, Actor.of(caller, request))
    return Response(status_code=204)


@judges_router.post(
    "/v1/drift/judges/{monitor_id}/check",
    status_code=202,
    response_model=CheckStarted,
    summary="Check a monitor now",
    responses={409: {"description": "A check of the monitor is under way", **_PROBLEM}},
)
async def check_now(caller: Admin, monitor_id: MonitorId, registry: Registry, scheduler: Scheduler) -> CheckStarted:
    """Start the monitor's check now instead of at its next interval (409 while one is under way); its report
    follows on the drift reports. A monitor is checked by one replica (docs/adr/0058): on another one, the check is
    asked of it (``started: false``; it starts within ``DRIFT_DETECTION_JUDGE_TICK_S``, or waits for the check
    under way there); 503 when Kafka does not take the request."""
    monitor = registry.get(caller.tenant_id, monitor_id)
    if not scheduler.owns(caller.tenant_id, monitor_id):
        await registry.request_check(caller.tenant_id, monitor, scheduler.clock())
        return CheckStarted(monitor_id=monitor_id, started=False)
    if not scheduler.start_now(caller.tenant_id, monitor):
        raise ProblemError(409, "Conflict", f"a check of judge monitor {monitor_id!r} is under way")
    return CheckStarted(monitor_id=monitor_id, started=True)
