"""API-key authentication and role-based permissions, as a FastAPI dependency.

Keys are high-entropy random strings (``llmops_<43 url-safe chars>``), so a SHA-256 digest is a safe
storage form: only digests are kept in the key file and in memory, and a key is never logged. Each key
is bound to one tenant and one role (:mod:`llmops_kit.roles`), and may expire; every route declares the
permission it needs. A missing, unknown or expired key is 401, a role without the permission 403 (and the
refusal goes to the audit trail when the store has a :class:`DenialSink`). The keys come from the
governance service's compacted topic (:mod:`llmops_kit.keystate` keeps a store current) and, as a bootstrap
mode, from a YAML file (``LLMOPS_API_KEYS_FILE``)::

    keys:
      - id: demo-writer
        tenant_id: demo
        role: developer
        sha256: 5e88...   # llmops keys create --offline
        expires_at: 2027-01-01T00:00:00Z   # optional

A ``service`` key belongs to a platform service, not to a tenant (its ``tenant_id`` is ``"*"``): it is
read-only but for an experiment's weights (which a tenant's verdict policy may move, docs/adr/0024), may
invoke models, and names the tenant it acts for on every request in the ``X-LLMOps-Tenant``
header, so each request stays scoped to one tenant. The gateway marks calls made with a service key as
platform traffic (``origin: platform``), which online analytics exclude (docs/adr/0007).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Protocol

import yaml
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmops_kit.roles import LEGACY_ROLES, ROLE_PERMISSIONS, SERVICE_ROLE, Permission, Role

__all__ = [
    "ANY_TENANT",
    "API_KEY_SECURITY",
    "ROLE_PERMISSIONS",
    "SERVICE_ROLE",
    "TENANT_HEADER",
    "TENANT_PATTERN",
    "ApiKeyRecord",
    "ApiKeyStore",
    "DenialSink",
    "Permission",
    "Principal",
    "authenticate",
    "caller",
    "declares",
    "generate_key",
    "hash_key",
    "permission_of",
    "requires",
]

ANY_TENANT = "*"
"""The ``tenant_id`` of a service key: it names its tenant per request (:data:`TENANT_HEADER`)."""
TENANT_HEADER = "X-LLMOps-Tenant"
PERMISSION_EXTRA = "x-llmops-permission"
"""The OpenAPI extension naming the permission of a route that authenticates with :func:`authenticate`."""
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def generate_key() -> str:
    """A new random API key; show it once, store only :func:`hash_key` of it."""
    return "llmops_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyRecord(BaseModel):
    """One stored key: its public id, tenant, role, digest and, optionally, when it stops being valid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    tenant_id: str = Field(pattern=r"^([a-z0-9][a-z0-9_-]{0,62}|\*)$")
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    expires_at: AwareDatetime | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _legacy_role(cls, value: Any) -> Any:
        return LEGACY_ROLES.get(value, value) if isinstance(value, str) else value

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


class DenialSink(Protocol):
    """Where refusals of authenticated callers go (the audit trail, :mod:`llmops_kit.access_audit`)."""

    def denied(self, principal: Principal, request: Request, *, action: str, reason: str) -> None:
        """Note one refusal; never blocks nor raises (the refusal is answered whatever happens to the note)."""
        ...


def _expiry(record: ApiKeyRecord) -> float:
    return math.inf if record.expires_at is None else record.expires_at.timestamp()


class ApiKeyStore:
    """The keys a service accepts, looked up by digest; changed in place as key state arrives.

    ``denials`` receives every 403 of :func:`requires`; ``source`` is the component keeping the store current
    (started by the kit's lifespan, see :func:`llmops_kit.bootstrap.install_api_keys`), None for a fixed store.
    """

    def __init__(
        self,
        records: Iterable[ApiKeyRecord] = (),
        *,
        denials: DenialSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.denials = denials
        self.source: Any = None
        self._clock = clock
        self._records: dict[str, ApiKeyRecord] = {}
        # Principals built once: validating a pydantic model per request costs more than the lookup.
        self._by_digest: dict[str, tuple[Principal, float]] = {}
        for record in records:
            self.put(record)

    def put(self, record: ApiKeyRecord) -> None:
        """Add ``record``, or replace the key of the same id (a rotated or re-scoped key)."""
        self.remove(record.id)
        self._records[record.id] = record
        principal = Principal(key_id=record.id, tenant_id=record.tenant_id, role=record.role)
        self._by_digest[record.sha256] = (principal, _expiry(record))

    def remove(self, key_id: str) -> None:
        """Stop accepting the key ``key_id`` (revoked); unknown ids are ignored."""
        record = self._records.pop(key_id, None)
        if record is not None:
            self._by_digest.pop(record.sha256, None)

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._records.get(key_id)

    def records(self) -> list[ApiKeyRecord]:
        """Every key the store holds (expired ones included: expiry is checked when a key is used)."""
        return list(self._records.values())

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
        """The key's principal, or None when the key is unknown, revoked or past its expiry."""
        entry = self._by_digest.get(hash_key(key))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key, as an alternative header")


async def _store(request: Request) -> ApiKeyStore:
    # async although it awaits nothing: FastAPI runs a plain ``def`` dependency on its thread pool, a thread hop
    # per request for an attribute lookup.
    return _store_of(request)


def authenticate(request: Request, permission: Permission) -> Principal:
    """What ``Depends(requires(permission))`` resolves to, as a plain call: for a hot route that takes only the
    request (FastAPI's resolution of each sub-dependency costs tens of microseconds per request). The same key
    headers, the same 401/403/503; declare the route's ``openapi_extra=declares(permission)``.
    """
    store = _store_of(request)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""  # as HTTPBearer(auto_error=False) does
    principal = _authorize(store, bearer or request.headers.get("x-api-key"), permission, request)
    return _scoped(principal, request.headers.get(TENANT_HEADER))


API_KEY_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
"""The OpenAPI security requirement ``requires`` produces, for routes that call :func:`authenticate`."""


def declares(permission: Permission) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that calls :func:`authenticate`: its security and its permission, so
    that the route declares its permission where :func:`permission_of` (and the route matrix test) finds it."""
    return {"security": API_KEY_SECURITY, PERMISSION_EXTRA: permission}


def _store_of(request: Request) -> ApiKeyStore:
    store = getattr(request.app.state, "api_keys", None)
    if not isinstance(store, ApiKeyStore):
        raise HTTPException(503, "authentication is not configured")
    return store


def _authorize(store: ApiKeyStore, key: str | None, permission: Permission, request: Request) -> Principal:
    principal = store.authenticate(key) if key else None
    if principal is None:
        raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
    if not principal.can(permission):
        reason = f"role '{principal.role}' lacks permission '{permission}'"
        if store.denials is not None:
            store.denials.denied(principal, request, action=f"authz.{permission}", reason=reason)
        raise HTTPException(403, reason)
    return principal


class _Requires:
    """The dependency :func:`requires` returns; it carries its permission for :func:`permission_of`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(
        self,
        store: Annotated[ApiKeyStore, Depends(_store)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header_key: Annotated[str | None, Depends(_header)],
        request: Request,
    ) -> Principal:
        principal = _authorize(store, bearer.credentials if bearer else header_key, self.permission, request)
        return _scoped(principal, request.headers.get(TENANT_HEADER))


def requires(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks ``permission``; returns the caller."""
    return _Requires(permission)


def permission_of(route: Any) -> set[str]:
    """The permissions a FastAPI route declares: its ``requires(...)`` dependencies (however deeply nested) and
    the permission of :func:`declares`. Empty for a public route (probes, docs)."""
    found: set[str] = set()
    extra = getattr(route, "openapi_extra", None) or {}
    if PERMISSION_EXTRA in extra:
        found.add(extra[PERMISSION_EXTRA])
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        if isinstance(dependant.call, _Requires):
            found.add(dependant.call.permission)
        pending.extend(dependant.dependencies)
    return found


def _scoped(principal: Principal, tenant: str | None) -> Principal:
    """A service key acts for the one tenant its request names; any other key for its own tenant, whatever it sends.

    A tenant key ignores the header rather than failing on it: it can only ever reach its own tenant's data.
    """
    if not principal.is_platform:
        return principal
    if tenant is None:
        raise HTTPException(400, f"a service key must name the tenant it acts for in the {TENANT_HEADER} header")
    if not TENANT_PATTERN.fullmatch(tenant):
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
