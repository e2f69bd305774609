"""``/v1/policies``: a tenant's admins write the tenant's governance policies; operators and admins read them.

Writes need ``policies:manage`` (the ``admin`` role), reads ``admin`` (change configuration: ``operator`` and
``admin``), since a policy's blocked terms are themselves sensitive. The tenant is always the caller's key's;
a body naming a tenant or a role is refused with 422 and audited (mass assignment). Bodies are validated by
``llmops.policy.published.v2``: an empty list, a term that looks like a regular expression, more terms or
models than the bound, an unknown classification label each answer 422 naming the field. Each write is published
to ``llmops.policies`` with its audit entry; the gateway enforces it within a poll (docs/governance.md#policies).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from llmops_kit.access_audit import refuse_owner_fields
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v2.governance import PolicyPublished

from llmops_governance_audit.policies.model import PolicyId, PolicyList, PolicySpec
from llmops_governance_audit.policies.registry import PolicyRegistry

__all__ = ["POLICIES", "policies_router"]

POLICIES = "policy_registry"
"""Where the app keeps its :class:`PolicyRegistry` (``app.state``)."""

Reader = Annotated[Principal, Depends(requires("admin"))]
Manager = Annotated[Principal, Depends(requires("policies:manage"))]


def _registry(request: Request) -> PolicyRegistry:
    registry = getattr(request.app.state, POLICIES, None)
    if not isinstance(registry, PolicyRegistry):
        raise ProblemError(503, "Service Unavailable", "the policy registry is not configured")
    return registry


async def _writer(request: Request, caller: Manager) -> Principal:
    await refuse_owner_fields(request, caller)
    return caller


Registry = Annotated[PolicyRegistry, Depends(_registry)]
Writer = Annotated[Principal, Depends(_writer)]

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        400: "The body is not JSON",
        401: "No, an unknown, a revoked or an expired API key",
        403: "The key's role lacks the route's permission",
        404: "No such policy in the caller's tenant",
        409: "The tenant has as many policies as it may",
        413: "The body is larger than the service accepts",
        422: "The body is not a valid policy (the detail names the field), or names a tenant or a role (audited)",
        503: "The policies are still loading, or Kafka did not store the change (see Retry-After)",
    }.items()
}

policies_router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=PROBLEMS)


@policies_router.get("", response_model=PolicyList, summary="The tenant's policies")
async def list_policies(caller: Reader, registry: Registry) -> PolicyList:
    """Every policy of the caller's tenant (disabled ones too), by id."""
    return PolicyList(policies=registry.list(caller.tenant_id))


@policies_router.get("/{policy_id}", response_model=PolicyPublished, summary="One policy")
async def get_policy(policy_id: PolicyId, caller: Reader, registry: Registry) -> PolicyPublished:
    """One policy of the caller's tenant; 404 for an unknown id."""
    return registry.get(caller.tenant_id, policy_id)


@policies_router.put(
    "/{policy_id}",
    response_model=PolicyPublished,
    summary="Create or replace a policy",
    responses={201: {"model": PolicyPublished, "description": "The policy was created"}},
)
async def put_policy(
    policy_id: PolicyId, spec: PolicySpec, request: Request, response: Response, caller: Writer, registry: Registry
) -> PolicyPublished:
    """Create (201) or replace (200) a policy; its version goes up by one on each change (the same body again
    changes nothing). Enforced by every service within seconds, without a restart."""
    policy, created = await registry.put(caller.tenant_id, policy_id, spec, Actor.of(caller, request))
    response.status_code = 201 if created else 200
    return policy


@policies_router.delete("/{policy_id}", response_model=PolicyPublished, summary="Delete a policy")
async def delete_policy(policy_id: PolicyId, request: Request, caller: Manager, registry: Registry) -> PolicyPublished:
    """Delete a policy (it stops applying within seconds); answers it as it was. Its history stays in the warehouse."""
    return await registry.delete(caller.tenant_id, policy_id, Actor.of(caller, request))


@policies_router.api_route("/{policy_id}", methods=["POST", "PATCH", "OPTIONS", "TRACE"], include_in_schema=False)
async def other_methods_of_a_policy(policy_id: str) -> Response:
    """405 with ``Allow: DELETE, GET, PUT`` (three routes: Starlette's own 405 would name only the first one's)."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "DELETE, GET, PUT"})
