"""Refusals of authenticated callers, on the audit trail (``llmops.audit.records``, outcome ``denied``).

Every service refuses the same way: a role without a route's permission (403, done by
:func:`llmops_kit.auth.requires` when the key store has a :class:`DenialAudit`), another tenant's resource
(BOLA) and a tenant or role in a body (mass assignment), which a service refuses with :func:`refuse`. Each
refusal is one audit entry: the caller's key id (never the key), the action it tried, the route, the reason.

Auditing never delays or changes the answer: the entry is published in the background, and at most
``max_in_flight`` entries wait for Kafka at once; beyond that (a flood of refused requests) entries are
dropped and counted (``llmops_audit_denials_dropped_total``), so refused requests cannot exhaust memory.

Privileged reads (docs/governance.md lists them) go the same way with outcome ``success``, but before the data
is sent: :func:`audit_read` returns once the entry is on the log, and refuses the read (503) when it is not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping
from typing import Any, Literal, NoReturn

from fastapi import HTTPException, Request
from prometheus_client import Counter
from pydantic import JsonValue

from llmops_kit.audit import Actor, AuditTrail, identifier
from llmops_kit.auth import TENANT_HEADER, TENANT_PATTERN, ApiKeyStore, Principal
from llmops_kit.tasks import cancel_and_wait

__all__ = [
    "OWNER_FIELDS",
    "READ_AUDIT_TIMEOUT_S",
    "DenialAudit",
    "audit_read",
    "filter_names",
    "refuse",
    "refuse_owner_fields",
]

OWNER_FIELDS = frozenset({"tenant_id", "tenant", "tenantid", "role", "key_id", "owner", "permissions"})
"""Body fields that would say whose a resource is or what a caller may do: the key decides those, never a body."""

log = logging.getLogger(__name__)
DROPPED = Counter("llmops_audit_denials_dropped_total", "Refusals not audited because too many were in flight")
READ_AUDIT_TIMEOUT_S = 5.0
"""How long a privileged read waits for its audit entry to be acknowledged before it is refused (503)."""


class DenialAudit:
    """A :class:`~llmops_kit.auth.DenialSink` publishing each refusal through an :class:`AuditTrail`."""

    def __init__(self, trail: AuditTrail, *, max_in_flight: int = 256) -> None:
        self.trail = trail
        """The service's access trail: refusals here, privileged reads through :func:`audit_read`."""
        self._max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    def denied(self, principal: Principal, request: Request, *, action: str, reason: str) -> None:
        """Publish the entry in the background (see the module docstring); never raises."""
        tenant = _tenant_of(principal, request)
        if tenant is None:  # a service key that names no valid tenant acts for none: no tenant's trail to write
            return
        if len(self._tasks) >= self._max_in_flight:
            DROPPED.inc()
            return
        task = asyncio.get_running_loop().create_task(self._publish(tenant, principal, request, action, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, tenant: str, principal: Principal, request: Request, action: str, reason: str) -> None:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        try:
            await self.trail.publish_with(
                tenant,
                Actor.of(principal, request),
                action=identifier(action),
                resource=("route", identifier(f"{request.method}:{route}")),
                details={"method": request.method, "route": route, "reason": reason[:512]},
                outcome="denied",
            )
        except Exception:  # the refusal was answered; losing its entry must not surface as an error anywhere
            log.warning("could not audit a refusal of key %s (%s)", principal.key_id, action)

    async def drain(self) -> None:
        """Wait for the entries in flight (tests, and a clean stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        await cancel_and_wait(list(self._tasks))


async def audit_read(
    request: Request,
    principal: Principal,
    *,
    action: str,
    resource: tuple[str, str],
    details: dict[str, JsonValue] | None = None,
    outcome: Literal["success", "failure"] = "success",
) -> None:
    """Put a privileged read on the audit trail before its data is sent (ids and filter names, never values).

    Returns once Kafka acknowledged the entry; when it does not within :data:`READ_AUDIT_TIMEOUT_S`, or the
    service's access trail is not started yet, the read is refused: 503 with ``Retry-After`` (a privileged read
    is never served unrecorded). A fixed key store (no Kafka: unit tests, an offline process) audits nothing.
    ``failure`` follows a read recorded before a change that then failed (nothing was sent after all).
    """
    store = getattr(request.app.state, "api_keys", None)
    if not isinstance(store, ApiKeyStore):
        return
    sink = store.denials
    if not isinstance(sink, DenialAudit):
        if store.source is None:
            return
        raise _unaudited()
    tenant = _tenant_of(principal, request)
    if tenant is None:
        return
    entry = sink.trail.publish_with(
        tenant,
        Actor.of(principal, request),
        action=identifier(action),
        resource=(resource[0], identifier(resource[1])),
        details=details or {},
        outcome=outcome,
    )
    try:
        await asyncio.wait_for(entry, READ_AUDIT_TIMEOUT_S)
    except Exception as exc:  # Kafka refused or was too slow: the read is not served
        log.warning("could not audit a privileged read of key %s (%s)", principal.key_id, action)
        raise _unaudited() from exc


def filter_names(filters: Mapping[str, Any]) -> dict[str, JsonValue]:
    """A read's ``details``: the names of the filters it used, never their values (a search or a user id is
    subject data); a filter left out (``None``) or ``all`` was not used."""
    used: list[JsonValue] = [name for name in sorted(filters) if filters[name] not in (None, "all")]
    return {"filters": used}


def _unaudited() -> HTTPException:
    retry = str(int(READ_AUDIT_TIMEOUT_S))
    return HTTPException(503, "the read could not be audited: retry later", headers={"Retry-After": retry})


def _tenant_of(principal: Principal, request: Request) -> str | None:
    """The tenant a refused caller acted for: its key's, or for a service key the one its request names."""
    if not principal.is_platform:
        return principal.tenant_id
    named = request.headers.get(TENANT_HEADER)
    return named if named is not None and TENANT_PATTERN.fullmatch(named) else None


def refuse(request: Request, principal: Principal, status: int, detail: str, *, action: str) -> NoReturn:
    """Answer ``status`` with ``detail`` and audit the refusal (when the service's key store audits refusals).

    For what a route refuses itself: another tenant's resource (404, so that ids of other tenants are not
    confirmed), a tenant or role in a body (422). ``action`` names what was tried, e.g. ``key.revoke``.
    """
    store = getattr(request.app.state, "api_keys", None)
    if isinstance(store, ApiKeyStore) and store.denials is not None:
        store.denials.denied(principal, request, action=action, reason=detail)
    raise HTTPException(status, detail)


async def refuse_owner_fields(request: Request, principal: Principal, *, allowed: Collection[str] = ()) -> None:
    """422 (audited) when the JSON body sets one of :data:`OWNER_FIELDS` other than ``allowed`` (mass assignment).

    Use it in a route's dependency, so that it runs before the body is validated: the tenant comes from the key,
    and a key's role from what its caller may grant, never from the body. The app's body limit bounds the read.
    """
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return  # not JSON: the route's own validation answers it
    if not isinstance(body, dict):
        return
    named = sorted((OWNER_FIELDS - set(allowed)) & body.keys())
    if named:
        detail = f"{', '.join(named)} may not be set in a request body: the API key decides whose and what it is"
        refuse(request, principal, 422, detail, action="request.mass_assignment")
