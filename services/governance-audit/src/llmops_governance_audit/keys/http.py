"""``/v1/keys``: a tenant's admins create, list, rotate and revoke the tenant's API keys.

Every route needs ``keys:manage`` (the ``admin`` role). The tenant is always the caller's: another tenant's key
id answers 404, as an unknown one does, and the attempt is audited (BOLA); a body naming a tenant or, outside
key creation, a role is refused with 422 and audited (mass assignment). A new key is in the answer once, with
``Cache-Control: no-store``. Reading keys (other principals' key ids, roles and expiries) is a privileged read:
audited before the answer is sent (``key.list``, ``key.read``; 503 when it cannot be).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from llmops_kit.access_audit import audit_read, refuse, refuse_owner_fields
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response

from llmops_governance_audit.keys.model import KeyCreate, KeyCreated, KeyList, KeyRotate, KeyView
from llmops_governance_audit.keys.registry import KeyRegistry

__all__ = ["REGISTRY", "keys_router"]

REGISTRY = "key_registry"
"""Where the app keeps its :class:`KeyRegistry` (``app.state``)."""

KeyId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]
Manager = Annotated[Principal, Depends(requires("keys:manage"))]


def _registry(request: Request) -> KeyRegistry:
    registry = getattr(request.app.state, REGISTRY, None)
    if not isinstance(registry, KeyRegistry):
        raise ProblemError(503, "Service Unavailable", "the key registry is not configured")
    return registry


async def _creator(request: Request, caller: Manager) -> Principal:
    """The caller of ``POST /v1/keys``: a role in the body is the point, a tenant is not."""
    await refuse_owner_fields(request, caller, allowed=("role",))
    return caller


async def _changer(request: Request, caller: Manager) -> Principal:
    await refuse_owner_fields(request, caller)
    return caller


Registry = Annotated[KeyRegistry, Depends(_registry)]
Creator = Annotated[Principal, Depends(_creator)]
Changer = Annotated[Principal, Depends(_changer)]

PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        400: "The body is not JSON",
        401: "No, an unknown, a revoked or an expired API key",
        403: "The key's role lacks `keys:manage`",
        404: "No such key in the caller's tenant (another tenant's id answers the same; the attempt is audited)",
        409: "The key was already rotated or revoked, or the tenant has as many keys as it may",
        413: "The body is larger than the service accepts",
        422: "The body is not valid, names a tenant or a role it may not (audited), or asks for too long a time",
        503: "The key state is still loading, Kafka did not store the change or a read's audit entry (Retry-After)",
    }.items()
}

keys_router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=PROBLEMS)


def _own(request: Request, registry: KeyRegistry, caller: Principal, key_id: str, action: str) -> None:
    """404 for another tenant's key, as for an unknown one (ids of other tenants are not confirmed); audited."""
    owner = registry.owner_of(key_id)
    if owner is not None and owner != caller.tenant_id:
        refuse(request, caller, 404, f"no key {key_id!r}", action=action)


@keys_router.post("", status_code=201, response_model=KeyCreated, summary="Create a key (shown once)")
async def create_key(
    spec: KeyCreate, request: Request, response: Response, caller: Creator, registry: Registry
) -> KeyCreated:
    """Create a key of the caller's tenant with a role and a lifetime; the answer holds the key, once."""
    view, key = await registry.create(caller.tenant_id, spec, Actor.of(caller, request))
    response.headers["Cache-Control"] = "no-store"
    return KeyCreated(**view.model_dump(), key=key)


@keys_router.get("", response_model=KeyList, summary="The tenant's keys")
async def list_keys(request: Request, caller: Manager, registry: Registry) -> KeyList:
    """Every key of the caller's tenant (revoked and expired ones too); never a key or its digest."""
    keys = registry.keys(caller.tenant_id)
    await audit_read(request, caller, action="key.list", resource=("api_key", "all"), details={"keys": len(keys)})
    return KeyList(keys=keys)


@keys_router.get("/{key_id}", response_model=KeyView, summary="One key")
async def get_key(key_id: KeyId, request: Request, caller: Manager, registry: Registry) -> KeyView:
    """One key of the caller's tenant; 404 for an unknown id or another tenant's."""
    _own(request, registry, caller, key_id, "key.read")
    view = registry.get(caller.tenant_id, key_id)
    await audit_read(request, caller, action="key.read", resource=("api_key", key_id))
    return view


@keys_router.post(
    "/{key_id}/rotate", status_code=201, response_model=KeyCreated, summary="Rotate a key (new key shown once)"
)
async def rotate_key(
    key_id: KeyId,
    request: Request,
    response: Response,
    caller: Changer,
    registry: Registry,
    spec: KeyRotate | None = None,
) -> KeyCreated:
    """A new key replacing ``key_id``; the old one stays valid for ``grace_s`` seconds, then no service accepts it."""
    _own(request, registry, caller, key_id, "key.rotate")
    grace = spec.grace_s if spec is not None else None
    view, key = await registry.rotate(caller.tenant_id, key_id, grace, Actor.of(caller, request))
    response.headers["Cache-Control"] = "no-store"
    return KeyCreated(**view.model_dump(), key=key)


@keys_router.delete("/{key_id}", response_model=KeyView, summary="Revoke a key")
async def revoke_key(key_id: KeyId, request: Request, caller: Changer, registry: Registry) -> KeyView:
    """Revoke ``key_id``: every service refuses it within seconds, without a restart."""
    _own(request, registry, caller, key_id, "key.revoke")
    return await registry.revoke(caller.tenant_id, key_id, Actor.of(caller, request))


def _not_allowed(allow: str) -> Response:
    """405 naming every method of a path served by two routes (Starlette's own 405 names only the first's)."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": allow})


@keys_router.api_route("", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False)
async def other_methods_of_keys() -> Response:
    """405 with ``Allow: GET, POST``."""
    return _not_allowed("GET, POST")


@keys_router.api_route("/{key_id}", methods=["POST", "PUT", "PATCH", "OPTIONS", "TRACE"], include_in_schema=False)
async def other_methods_of_a_key(key_id: str) -> Response:
    """405 with ``Allow: DELETE, GET``."""
    return _not_allowed("DELETE, GET")
