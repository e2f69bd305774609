"""HTTP API of evaluators: ``/v1/evaluators`` and ``/v1/evaluator-kinds``.

Reads need ``calls:read`` (reader and up), writes ``admin``; the tenant is always the caller's. The routes
find the :class:`~llmops_evaluation.registry.EvaluatorRegistry` on ``app.state.evaluator_registry``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v1 import EvaluatorConfigured
from pydantic import BaseModel, JsonValue

from llmops_evaluation.evaluators import Evaluator, all_kinds
from llmops_evaluation.registry import EvaluatorRegistry, EvaluatorSpec

__all__ = ["PROBLEMS", "STATE_KEY", "router"]

STATE_KEY = "evaluator_registry"

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "No or an unknown API key",
        403: "The key's role lacks the permission",
        404: "No such evaluator",
        409: "The tenant has as many evaluators as it may",
        413: "The body is larger than the service accepts",
        422: "The evaluator's kind or parameters are not valid",
        503: "The configurations are loading, or Kafka did not store the change",
    }.items()
}


def _registry(request: Request) -> EvaluatorRegistry:
    registry = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(registry, EvaluatorRegistry):
        raise ProblemError(503, "Service Unavailable", "the evaluator registry is starting")
    return registry


Registry = Annotated[EvaluatorRegistry, Depends(_registry)]
Reader = Annotated[Principal, Depends(requires("calls:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
EvaluatorName = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]

router = APIRouter(tags=["evaluators"], responses=PROBLEMS)


class EvaluatorView(BaseModel):
    """An evaluator as configured, with the version its scores carry (kind version + parameter digest)."""

    version: str
    config: EvaluatorConfigured

    @classmethod
    def of(cls, evaluator: Evaluator) -> EvaluatorView:
        return cls(version=evaluator.version, config=evaluator.config)


class EvaluatorList(BaseModel):
    """The caller's evaluators, by name."""

    items: list[EvaluatorView]


class EvaluatorKind(BaseModel):
    """A built-in evaluator kind: its code version and the JSON Schema of its ``params``."""

    kind: str
    version: str
    description: str
    params_schema: dict[str, JsonValue]


@router.get("/v1/evaluator-kinds", response_model=list[EvaluatorKind], summary="The evaluator kinds")
async def list_kinds(caller: Reader) -> list[EvaluatorKind]:
    """Every kind a configuration may name, with the parameters it takes."""
    return [
        EvaluatorKind(
            kind=k, version=h.version, description=(h.__doc__ or "").strip(), params_schema=h.params.model_json_schema()
        )
        for k, h in sorted(all_kinds().items())
    ]


@router.get("/v1/evaluators", response_model=EvaluatorList, summary="List evaluators")
async def list_evaluators(
    registry: Registry, caller: Reader, app: Annotated[str | None, Query(min_length=1, max_length=256)] = None
) -> EvaluatorList:
    """The tenant's evaluators by name, optionally only those of ``app``."""
    return EvaluatorList(items=[EvaluatorView.of(e) for e in registry.evaluators(caller.tenant_id, app)])


@router.get("/v1/evaluators/{name}", response_model=EvaluatorView, summary="One evaluator")
async def get_evaluator(name: EvaluatorName, registry: Registry, caller: Reader) -> EvaluatorView:
    """The evaluator's configuration and current version."""
    return EvaluatorView.of(registry.get(caller.tenant_id, name))


@router.put(
    "/v1/evaluators/{name}",
    response_model=EvaluatorView,
    summary="Create or replace an evaluator",
    responses={
        201: {"description": "Created", "model": EvaluatorView},
        400: {"description": "The body is not JSON", "content": {"application/problem+json": {}}},
    },
)
async def put_evaluator(
    name: EvaluatorName, spec: EvaluatorSpec, registry: Registry, caller: Admin, request: Request, response: Response
) -> EvaluatorView:
    """Which kind runs with which parameters on which of the app's calls (and what share of them).

    Parameters are checked against the kind (422 naming each problem); changing them makes a new version,
    whose scores stand beside the old ones. Replacing answers 200, creating 201. Audited.
    """
    evaluator, created = await registry.put(caller.tenant_id, name, spec, Actor.of(caller, request))
    response.status_code = 201 if created else 200
    return EvaluatorView.of(evaluator)


@router.delete("/v1/evaluators/{name}", status_code=204, summary="Delete an evaluator")
async def delete_evaluator(name: EvaluatorName, registry: Registry, caller: Admin, request: Request) -> Response:
    """Stop scoring with it; its past scores stay in the warehouse. Audited."""
    await registry.delete(caller.tenant_id, name, Actor.of(caller, request))
    return Response(status_code=204)


@router.api_route(
    "/v1/evaluators/{name}", methods=["POST", "PATCH", "OPTIONS", "TRACE"], include_in_schema=False, status_code=405
)
async def other_methods(name: str) -> Response:
    """405 naming every method of the path: GET, PUT and DELETE are three routes, and Starlette's own 405 would
    name only the first one's."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "DELETE, GET, PUT"})
