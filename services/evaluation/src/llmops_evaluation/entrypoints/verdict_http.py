"""HTTP API of A/B verdicts: ``GET /v1/experiments/{experiment_id}/verdict`` (needs ``calls:read``).

The experiment is the gateway's (``/v1/experiments`` on the gateway); its history is read from the warehouse.
The route finds the :class:`~llmops_evaluation.abtest.service.VerdictService` on ``app.state.verdicts``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError

from llmops_evaluation.abtest.service import VerdictService
from llmops_evaluation.abtest.verdict import ExperimentVerdict

__all__ = ["EXPERIMENT_ID", "VERDICTS_KEY", "router"]

VERDICTS_KEY = "verdicts"
EXPERIMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"
"""The gateway's experiment ids."""

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such experiment in the caller's tenant",
        422: "A parameter is not valid",
        429: "As many verdicts as the service computes at once are running (Retry-After)",
        502: "The warehouse refused the history read",
        503: "History reads are not configured, or the warehouse is unavailable (Retry-After)",
    }.items()
}


def _verdicts(request: Request) -> VerdictService:
    service = getattr(request.app.state, VERDICTS_KEY, None)
    if not isinstance(service, VerdictService):
        raise ProblemError(503, "Service Unavailable", "verdicts are starting")
    return service


Verdicts = Annotated[VerdictService, Depends(_verdicts)]
Reader = Annotated[Principal, Depends(requires("calls:read"))]
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
