"""HTTP API of A/B verdicts: ``GET /v1/experiments/{experiment_id}/verdict`` (needs ``calls:read``), and of
verdict policies: ``PUT``/``GET``/``DELETE /v1/experiments/{experiment_id}/policy`` (``admin`` to change).

The experiment is the gateway's (``/v1/experiments`` on the gateway); its history is read from the warehouse.
The routes find the :class:`~llmops_evaluation.abtest.service.VerdictService` on ``app.state.verdicts`` and
the :class:`~llmops_evaluation.abtest.policies.PolicyRegistry` on ``app.state.verdict_policies``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v1 import VerdictPolicySet

from llmops_evaluation.abtest.policies import PolicyRegistry, PolicySpec
from llmops_evaluation.abtest.service import VerdictService
from llmops_evaluation.abtest.verdict import ExperimentVerdict

__all__ = ["EXPERIMENT_ID", "POLICIES_KEY", "VERDICTS_KEY", "router"]

VERDICTS_KEY = "verdicts"
POLICIES_KEY = "verdict_policies"
EXPERIMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"
"""The gateway's experiment ids."""

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such experiment in the caller's tenant (or no policy for it)",
        422: "A parameter is not valid",
        429: "As many verdicts as the service computes at once are running (Retry-After)",
        502: "The warehouse refused the history read",
        503: "History reads are not configured, the warehouse is unavailable, policies are loading or Kafka did not"
        " store the change (Retry-After)",
    }.items()
}


def _verdicts(request: Request) -> VerdictService:
    service = getattr(request.app.state, VERDICTS_KEY, None)
    if not isinstance(service, VerdictService):
        raise ProblemError(503, "Service Unavailable", "verdicts are starting")
    return service


def _policies(request: Request) -> PolicyRegistry:
    registry = getattr(request.app.state, POLICIES_KEY, None)
    if not isinstance(registry, PolicyRegistry):
        raise ProblemError(503, "Service Unavailable", "verdict policies are starting")
    return registry


Verdicts = Annotated[VerdictService, Depends(_verdicts)]
Policies = Annotated[PolicyRegistry, Depends(_policies)]
Reader = Annotated[Principal, Depends(requires("calls:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
ExperimentId = Annotated[str, Path(min_length=1, max_length=128, pattern=EXPERIMENT_ID)]

router = APIRouter(tags=["verdicts"], responses=PROBLEMS)


@router.get(
    "/v1/experiments/{experiment_id}/verdict", response_model=ExperimentVerdict, summary="An A/B experiment's verdict"
)
async def get_verdict(
    experiment_id: ExperimentId,
    verdicts: Verdicts,
    caller: Reader,
    metric: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="Primary metric (default: the experiment's, else error_rate)"),
    ] = None,
    alpha: Annotated[
        float | None, Query(gt=0, lt=0.5, description="False-positive rate (default: the service's)")
    ] = None,
    minimum_effect: Annotated[
        float | None, Query(gt=0, le=10, description="Smallest difference that matters, in standard deviations")
    ] = None,
) -> ExperimentVerdict:
    """Per variant against the control: every metric's distributions, the fixed-horizon test that fits it
    (Welch, Mann-Whitney or two-proportion), the always-valid sequential test, and the verdict
    (``keep_running``, ``variant_better``, ``variant_worse``, ``no_difference``) from the primary metric.

    Counts only calls the gateway recorded for applications (not the platform's own). Valid however often it
    is asked: the sequential test's false-positive rate stays under ``alpha`` under continuous monitoring.
    """
    return await verdicts.verdict(
        caller.tenant_id, experiment_id, metric=metric, alpha=alpha, minimum_effect=minimum_effect
    )


@router.put(
    "/v1/experiments/{experiment_id}/policy",
    response_model=VerdictPolicySet,
    summary="Arm a verdict policy",
    responses={400: {"description": "The body is not JSON", "content": {"application/problem+json": {}}}},
)
async def put_policy(
    experiment_id: ExperimentId, spec: PolicySpec, policies: Policies, caller: Admin, request: Request
) -> VerdictPolicySet:
    """Opt in: once the verdict is decisive, ``promote`` gives a better variant every call and ``rollback`` gives
    the control every call, through the gateway's experiment API. A policy acts once, then disarms itself
    (``last_action``). The experiment need not exist yet. Audited (``verdict_policy.set``).
    """
    return await policies.put(caller.tenant_id, experiment_id, spec, Actor.of(caller, request))


@router.get("/v1/experiments/{experiment_id}/policy", response_model=VerdictPolicySet, summary="A verdict policy")
async def get_policy(experiment_id: ExperimentId, policies: Policies, caller: Reader) -> VerdictPolicySet:
    """The experiment's policy: what it may do, and what it last did."""
    return policies.get(caller.tenant_id, experiment_id)


@router.delete("/v1/experiments/{experiment_id}/policy", status_code=204, summary="Remove a verdict policy")
async def delete_policy(experiment_id: ExperimentId, policies: Policies, caller: Admin, request: Request) -> Response:
    """Opt out. Audited (``verdict_policy.delete``)."""
    await policies.delete(caller.tenant_id, experiment_id, Actor.of(caller, request))
    return Response(status_code=204)


@router.api_route(
    "/v1/experiments/{experiment_id}/policy",
    methods=["POST", "PATCH", "OPTIONS", "TRACE"],
    include_in_schema=False,
    status_code=405,
)
async def other_policy_methods(experiment_id: str) -> Response:
    """405 naming every method of the path (Starlette's own 405 would name only the first route's)."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "DELETE, GET, PUT"})
