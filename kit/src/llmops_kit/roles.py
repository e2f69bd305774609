"""The platform's fixed roles and what each may do: the one place roles map to permissions.

Every route declares the one permission it needs (``requires("<permission>")``); a key carries one role.
Docs name permissions and roles from here, never a copy. The roles (docs/governance.md#roles):

* ``admin``: everything in its tenant, including its keys (``keys:manage``) and policies (``policies:manage``).
* ``operator``: runs the tenant's LLM applications: changes their configuration (prompts, experiments,
  evaluators, review queues: permission ``admin``), invokes models, reads calls and metrics; no keys.
* ``developer``: builds applications: sends calls, invokes models, reads calls and metrics, gives feedback.
* ``analyst``: reads calls and metrics.
* ``viewer``: reads aggregate metrics only (no call contents).
* ``reviewer``: a human who judges answers: gives feedback and reads the calls it is about (issue 9).
* ``ingest``: a producer: sends calls and nothing else (least privilege for an application's key).
* ``service``: a platform service's own key (tenant ``*``, names its tenant per request).

Keys made before these roles existed keep working: ``writer`` is read as ``developer`` and ``reader`` as
``analyst`` (:data:`LEGACY_ROLES`); ``admin``, ``ingest``, ``reviewer`` and ``service`` kept their names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

__all__ = [
    "ASSIGNABLE_ROLES",
    "LEGACY_ROLES",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SERVICE_ROLE",
    "Permission",
    "Role",
]

Permission = Literal[
    "calls:write",
    "calls:read",
    "metrics:read",
    "inference:invoke",
    "feedback:write",
    "experiments:weights",
    "admin",
    "keys:manage",
    "policies:manage",
    "erasure:request",
    "erasure:read",
    "runs:start",
]
"""What a route may need. ``admin`` is "change the tenant's configuration" (its historical name, kept so that
routes did not change); ``keys:manage`` creates, lists, rotates and revokes the tenant's keys; ``policies:manage``
writes the tenant's governance policies (model allow-lists, blocked terms, classifications, PII, retention);
``erasure:request`` asks for a data subject's erasure and reads its receipts (the ``admin`` role only: it destroys
data); ``erasure:read`` reads which calls an erasure removed (admins, and the services that erase their own state);
``runs:start`` starts an offline evaluation run (those who configure evaluators, and the drift-detection service's
judge-drift monitors, docs/adr/0051)."""
Role = Literal["admin", "operator", "developer", "analyst", "viewer", "reviewer", "ingest", "service"]

SERVICE_ROLE = "service"
PERMISSIONS: frozenset[str] = frozenset(get_args(Permission))
ROLES: tuple[str, ...] = get_args(Role)
ASSIGNABLE_ROLES: tuple[str, ...] = tuple(role for role in ROLES if role != SERVICE_ROLE)
"""Roles a tenant's admin may give a key through the governance API; a service key is a platform credential,
made offline by whoever runs the platform (``llmops keys create --role service``)."""
LEGACY_ROLES: Mapping[str, str] = {"writer": "developer", "reader": "analyst"}
"""Role names of keys made before the fixed roles, and the role each is read as."""

_READ = frozenset({"calls:read", "metrics:read"})
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    "operator": _READ | {"admin", "inference:invoke", "feedback:write", "experiments:weights", "runs:start"},
    "developer": _READ | {"calls:write", "inference:invoke", "feedback:write"},
    "analyst": _READ,
    "viewer": frozenset({"metrics:read"}),
    "reviewer": frozenset({"feedback:write", "calls:read"}),
    "ingest": frozenset({"calls:write"}),
    # experiments:weights: the evaluation service's opt-in verdict policy moves an experiment's traffic (ADR 0024).
    # runs:start: drift-detection re-scores a judge-drift monitor's anchor set with an offline run (ADR 0051).
    SERVICE_ROLE: _READ | {"inference:invoke", "experiments:weights", "erasure:read", "runs:start"},
}
"""Every role and what it may do. An end user in a browser has no key: a feedback token signed by the gateway
(:mod:`llmops_kit.feedback_tokens`) lets them rate the one call it names."""
