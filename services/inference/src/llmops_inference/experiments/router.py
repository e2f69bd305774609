"""HTTP API of experiments: ``/v1/experiments``. Reads need ``calls:read`` (reader and up), writes ``admin``.

The tenant is always the caller's. Starting, changing and stopping an experiment each publish an audit
entry. The routes find the :class:`~llmops_inference.experiments.service.ExperimentRegistry` on
``app.state.experiment_registry``, set by the gateway's bootstrap.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError
from llmops_schemas.v1 import ExperimentConfigured
from pydantic import BaseModel

from llmops_inference.experiments.model import ExperimentChange, ExperimentDraft
from llmops_inference.experiments.service import ExperimentRegistry

__all__ = ["PROBLEMS", "STATE_KEY", "experiment_registry", "router"]

STATE_KEY = "experiment_registry"

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such experiment",
        409: "The id is taken, the experiment changed meanwhile or is stopped, or another one takes its traffic",
        422: "The definition or change is not valid",
        503: "The registry is loading its topic or cannot publish",
    }.items()
}


def experiment_registry(request: Request) -> ExperimentRegistry:
    """The registry the gateway's bootstrap put on the app (503 when there is none)."""
    registry = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(registry, ExperimentRegistry):
        raise ProblemError(503, "Service Unavailable", "the experiments registry is not configured")
    return registry


Registry = Annotated[ExperimentRegistry, Depends(experiment_registry)]
Reader = Annotated[Principal, Depends(requires("calls:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
WeightsOnly = Annotated[Principal, Depends(requires("experiments:weights"))]
"""Admins, and the evaluation service's key, which may move weights only (its verdict policy, ADR 0024)."""
ExperimentId = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]
Status = Literal["draft", "running", "paused", "completed"]

router = APIRouter(prefix="/v1/experiments", tags=["experiments"], responses=PROBLEMS)


class ExperimentList(BaseModel):
    """The caller's experiments, by id."""

    items: list[ExperimentConfigured]


@router.post("", status_code=201, response_model=ExperimentConfigured, summary="Create (and start) an experiment")
async def create_experiment(
    draft: ExperimentDraft, registry: Registry, caller: Admin, request: Request
) -> ExperimentConfigured:
    """A/B (weights over variants), canary (control plus one candidate with a small weight) or shadow
    (the control answers; the others get a copy of their weight's share of calls, recorded, never returned).

    Weights sum to 1. The control names the prompt version or model whose calls the experiment takes; only
    one running experiment may take the same calls (409). Starting is audited.
    """
    return await registry.create(caller.tenant_id, draft, Actor.of(caller, request))


@router.get("", response_model=ExperimentList, summary="List experiments")
async def list_experiments(
    registry: Registry, caller: Reader, status: Annotated[Status | None, Query()] = None
) -> ExperimentList:
    """The tenant's experiments, optionally only those with ``status``."""
    return ExperimentList(items=registry.experiments(caller.tenant_id, status))


@router.get("/{experiment_id}", response_model=ExperimentConfigured, summary="One experiment")
async def get_experiment(experiment_id: ExperimentId, registry: Registry, caller: Reader) -> ExperimentConfigured:
    """The experiment's current definition, status and version."""
    return registry.get(caller.tenant_id, experiment_id)


@router.patch("/{experiment_id}", response_model=ExperimentConfigured, summary="Change weights or status")
async def change_experiment(
    experiment_id: ExperimentId, change: ExperimentChange, registry: Registry, caller: WeightsOnly, request: Request
) -> ExperimentConfigured:
    """Set ``weights`` (the control's may be left out: it gets the rest), raise or lower a canary with
    ``canary_weight``, pause or resume with ``status``. ``expected_version`` makes it a compare-and-set (409).
    Audited. A stopped experiment cannot change (409). A key with ``experiments:weights`` but not ``admin``
    (a platform service's) may set ``weights`` and ``expected_version`` only (403 for anything else).
    """
    if not caller.can("admin") and change.model_fields_set - {"weights", "expected_version"}:
        raise ProblemError(403, "Forbidden", "this key may change an experiment's weights only")
    return await registry.change(caller.tenant_id, experiment_id, change, Actor.of(caller, request))


@router.post("/{experiment_id}/stop", response_model=ExperimentConfigured, summary="Stop an experiment")
async def stop_experiment(
    experiment_id: ExperimentId, registry: Registry, caller: Admin, request: Request
) -> ExperimentConfigured:
    """Stop for good (status ``completed``): no call is assigned from now on. Audited; stopping twice is a no-op."""
    return await registry.stop(caller.tenant_id, experiment_id, Actor.of(caller, request))
