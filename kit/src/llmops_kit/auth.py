"""API-key authentication and role-based permissions, as a FastAPI dependency.

Keys are high-entropy random strings (``llmops_<43 url-safe chars>``), so a SHA-256 digest is a safe
storage form: only digests are kept in the key file and in memory, and a key is never logged. Each key
is bound to one tenant and one role; every route declares the permission it needs. A missing or unknown
key is 401, a role without the permission 403. Until the governance service exists, keys come from a
YAML file (``LLMOPS_API_KEYS_FILE``)::

    keys:
      - id: demo-writer
        tenant_id: demo
        role: writer
        sha256: 5e88...   # llmops keys hash <key>

A ``service`` key belongs to a platform service, not to a tenant (its ``tenant_id`` is ``"*"``): it is
read-only but for an experiment's weights (which a tenant's verdict policy may move, docs/adr/0024), may
invoke models, and names the tenant it acts for on every request in the ``X-LLMOps-Tenant``
header, so each request stays scoped to one tenant. The gateway marks calls made with a service key as
platform traffic (``origin: platform``), which online analytics exclude (docs/adr/0007).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Literal

import yaml
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ANY_TENANT",
    "API_KEY_SECURITY",
    "ROLE_PERMISSIONS",
    "SERVICE_ROLE",
    "TENANT_HEADER",
    "ApiKeyRecord",
    "ApiKeyStore",
    "Permission",
    "Principal",
    "authenticate",
    "caller",
    "generate_key",
    "hash_key",
    "requires",
]

Permission = Literal[
    "calls:write", "calls:read", "metrics:read", "inference:invoke", "feedback:write", "experiments:weights", "admin"
]
Role = Literal["admin", "writer", "reader", "ingest", "service", "reviewer"]

SERVICE_ROLE = "service"
ANY_TENANT = "*"
"""The ``tenant_id`` of a service key: it names its tenant per request (:data:`TENANT_HEADER`)."""
TENANT_HEADER = "X-LLMOps-Tenant"
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "calls:write",
            "calls:read",
            "metrics:read",
            "inference:invoke",
            "feedback:write",
            "experiments:weights",
            "admin",
        }
    ),
    "writer": frozenset({"calls:write", "calls:read", "metrics:read", "inference:invoke", "feedback:write"}),
    "reader": frozenset({"calls:read", "metrics:read"}),
    "ingest": frozenset({"calls:write"}),
    # experiments:weights: the evaluation service's opt-in verdict policy moves an experiment's traffic (ADR 0024).
    SERVICE_ROLE: frozenset({"calls:read", "metrics:read", "inference:invoke", "experiments:weights"}),
    # A human who judges answers: gives feedback (docs/feedback.md) and reads the calls it is about.
    "reviewer": frozenset({"feedback:write", "calls:read"}),
}
"""Every role and what it may do: the one place roles are defined (docs name permissions, never re-list roles).
An end user in a browser has no key: a feedback token signed by the gateway (:mod:`llmops_kit.feedback_tokens`)
lets them rate the one call it names."""


def generate_key() -> str:
    """A new random API key; show it once, store only :func:`hash_key` of it."""
    return "llmops_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyRecord(BaseModel):
    """One stored key: its public id, tenant, role and digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    tenant_id: str = Field(pattern=r"^([a-z0-9][a-z0-9_-]{0,62}|\*)$")
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _service_keys_span_tenants(self) -> ApiKeyRecord:
        if (self.role == SERVICE_ROLE) != (self.tenant_id == ANY_TENANT):
            raise ValueError(f"tenant_id '{ANY_TENANT}' goes with role '{SERVICE_ROLE}', and only with it")
        return self


class Principal(BaseModel):
    """Who is calling: the key's id (never the key), tenant and role."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant_id: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    @property
    def is_platform(self) -> bool:
        """A platform service's key: what it does is platform traffic, not a tenant's application."""
        return self.role == SERVICE_ROLE


class ApiKeyStore:
    """Looks keys up by digest."""

    def __init__(self, records: list[ApiKeyRecord]) -> None:
        # Principals built once: validating a pydantic model per request costs more than the lookup.
        self._by_digest = {r.sha256: Principal(key_id=r.id, tenant_id=r.tenant_id, role=r.role) for r in records}

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyStore:
        """Load a key file; a malformed one raises ``ValueError`` naming the file, the entry and the field.

        The offending values are not echoed: a "bad digest" is most often a key pasted in by mistake.
        """
        raw = yaml.safe_load(path.read_text()) or {}
        entries = raw.get("keys", []) if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a mapping with a 'keys' list of {{id, tenant_id, role, sha256}}")
        records: list[ApiKeyRecord] = []
        for index, entry in enumerate(entries):
            try:
                records.append(ApiKeyRecord.model_validate(entry))
            except ValidationError as exc:
                name = f"keys[{index}]"
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    name += f" (id {entry['id']!r})"
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False)
                )
                raise ValueError(f"{path}: {name}: {problems}") from None
        return cls(records)

    def authenticate(self, key: str) -> Principal | None:
        return self._by_digest.get(hash_key(key))


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key, as an alternative header")


async def _store(request: Request) -> ApiKeyStore:
    # async although it awaits nothing: FastAPI runs a plain ``def`` dependency on its thread pool, a thread hop
    # per request for an attribute lookup.
    return _store_of(request)


def authenticate(request: Request, permission: Permission) -> Principal:
    """What ``Depends(requires(permission))`` resolves to, as a plain call: for a hot route that takes only the
    request (FastAPI's resolution of each sub-dependency costs tens of microseconds per request). The same key
    headers, the same 401/403/503; declare ``security=API_KEY_SECURITY`` in the route's ``openapi_extra``.
    """
    store = _store_of(request)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""  # as HTTPBearer(auto_error=False) does
    principal = _authorize(store, bearer or request.headers.get("x-api-key"), permission)
    return _scoped(principal, request.headers.get(TENANT_HEADER))


API_KEY_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
"""The OpenAPI security requirement ``requires`` produces, for routes that call :func:`authenticate`."""


def _store_of(request: Request) -> ApiKeyStore:
    store = getattr(request.app.state, "api_keys", None)
    if not isinstance(store, ApiKeyStore):
        raise HTTPException(503, "authentication is not configured")
    return store


def _authorize(store: ApiKeyStore, key: str | None, permission: Permission) -> Principal:
    principal = store.authenticate(key) if key else None
    if principal is None:
        raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
    if not principal.can(permission):
        raise HTTPException(403, f"role '{principal.role}' lacks permission '{permission}'")
    return principal


def requires(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks ``permission``; returns the caller."""

    async def dependency(
        store: Annotated[ApiKeyStore, Depends(_store)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header_key: Annotated[str | None, Depends(_header)],
        request: Request,
    ) -> Principal:
        principal = _authorize(store, bearer.credentials if bearer else header_key, permission)
        return _scoped(principal, request.headers.get(TENANT_HEADER))

    return dependency


def _scoped(principal: Principal, tenant: str | None) -> Principal:
    """A service key acts for the one tenant its request names; any other key for its own tenant, whatever it sends.

    A tenant key ignores the header rather than failing on it: it can only ever reach its own tenant's data.
    """
    if not principal.is_platform:
        return principal
    if tenant is None:
        raise HTTPException(400, f"a service key must name the tenant it acts for in the {TENANT_HEADER} header")
    if not _TENANT_RE.fullmatch(tenant):
        raise HTTPException(400, f"{TENANT_HEADER} is not a tenant id (lower-case letters, digits, '_' and '-')")
    return principal.model_copy(update={"tenant_id": tenant})


async def caller(request: Request) -> Principal | None:
    """The caller when the request carries a valid API key (bearer or ``X-API-Key``), else None; never raises.

    For routes that answer everyone and tell a key holder more (``/readyz`` and its per-check details).
    """
    store = getattr(request.app.state, "api_keys", None)
    bearer = await _bearer(request)
    key = bearer.credentials if bearer else await _header(request)
    if not isinstance(store, ApiKeyStore) or not key:
        return None
    return store.authenticate(key)
