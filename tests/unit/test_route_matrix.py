"""Role x route x tenant, generated from every service's real app: each route declares one permission, every
role is refused exactly the routes its permissions do not cover (BFLA), each refusal is on the audit trail, no
request body may name a tenant or a role (mass assignment), and a key never reaches another tenant (BOLA).

Routes are discovered from the apps (``app.routes``), so a route added later is covered without touching this
file; a service added later must add its app to :data:`APPS` (the completeness test fails until it does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from llmops_kit.access_audit import OWNER_FIELDS, DenialAudit
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import TENANT_HEADER, ApiKeyRecord, ApiKeyStore, hash_key, permission_of
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.roles import ROLE_PERMISSIONS, ROLES, SERVICE_ROLE
from llmops_schemas.v1 import AuditRecorded

from tests.unit.test_service_edges import (
    AppFactory,
    alerting,
    cost,
    drift_detection,
    evaluation,
    feedback,
    gateway,
    governance,
    ingest,
    served,
    warehouse,
)

ROOT = Path(__file__).resolve().parents[2]
APPS: dict[str, AppFactory] = {
    "ingest": ingest,
    "inference": gateway,
    "warehouse": warehouse,
    "feedback": feedback,
    "evaluation": evaluation,
    "governance-audit": governance,
    "cost": cost,
    "alerting": alerting,
    "drift-detection": drift_detection,
}
WITHOUT_KEYS = {"model-server"}
"""Services with no API keys (Triton's own protocol, reached only by the gateway)."""
PUBLIC = {"/healthz", "/readyz", "/metrics"}
BODY_ROLE_ALLOWED = {("governance-audit", "POST", "/v1/keys")}
"""Routes whose body may carry a ``role``: creating a key gives it one (that the caller may give, checked)."""
TENANTS = ("alpha", "beta")
TENANT_ROLES = [role for role in ROLES if role != SERVICE_ROLE]


def key_of(tenant: str, role: str) -> str:
    return f"llmops_matrix_{tenant}_{role}".ljust(48, "0")


def store(audit: DenialAudit) -> ApiKeyStore:
    records = [
        ApiKeyRecord(id=f"{tenant}-{role}", tenant_id=tenant, role=role, sha256=hash_key(key_of(tenant, role)))  # type: ignore[arg-type]
        for tenant in TENANTS
        for role in TENANT_ROLES
    ]
    service = ApiKeyRecord(id="svc", tenant_id="*", role="service", sha256=hash_key(key_of("any", SERVICE_ROLE)))
    return ApiKeyStore([*records, service], denials=audit)


def routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """Every API route of ``app`` but the probes: (method, path template, route)."""
    for route in _flat(app.routes):
        if hasattr(route, "dependant") and route.path not in PUBLIC and route.include_in_schema:
            for method in sorted(set(route.methods) - {"HEAD"}):
                yield method, route.path, route


def hidden_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """The routes left out of the API's description: each answers 405 to a method the resource does not have."""
    for route in _flat(app.routes):
        if hasattr(route, "dependant") and not route.include_in_schema:
            for method in sorted(set(route.methods) - {"HEAD"}):
                yield method, route.path


def _flat(candidates: Iterable[Any]) -> Iterator[Any]:
    """The routes of routers included in ``candidates`` too (FastAPI keeps an included router as one entry,
    whose ``effective_candidates`` are its routes with the prefix applied)."""
    for route in candidates:
        if hasattr(route, "effective_candidates"):
            yield from _flat(route.effective_candidates())
        else:
            yield route


def concrete(path: str) -> str:
    """A path with an id in each parameter (valid for the parameters' patterns; it names nothing that exists)."""
    return re.sub(r"\{[^}:]+(:path)?\}", "x1", path)


SERVICE_DIRS = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
ROUTES = [
    pytest.param(service, method, path, id=f"{service}:{method}:{path}")
    for service, factory in APPS.items()
    for method, path, _ in routes(factory(Path("/nonexistent"), None))
]


def test_every_service_with_api_keys_is_in_the_matrix() -> None:
    assert set(SERVICE_DIRS) - WITHOUT_KEYS == set(APPS)


def test_the_matrix_has_routes_of_every_service() -> None:
    assert {p.values[0] for p in ROUTES} == set(APPS)


HIDDEN = [
    pytest.param(service, method, path, id=f"{service}:{method}:{path}")
    for service, factory in APPS.items()
    for method, path in hidden_routes(factory(Path("/nonexistent"), None))
]


@pytest.mark.parametrize(("service", "method", "path"), HIDDEN)
async def test_a_route_outside_the_api_only_answers_405(service: str, method: str, path: str, tmp_dir: Path) -> None:
    async with served(APPS[service](tmp_dir, ApiKeyStore())) as client:
        assert (await client.request(method, concrete(path))).status_code == 405


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix")


@pytest.mark.parametrize(("service", "method", "path"), ROUTES)
def test_the_route_declares_exactly_one_permission(service: str, method: str, path: str, tmp_dir: Path) -> None:
    route = next(r for m, p, r in routes(APPS[service](tmp_dir, None)) if (m, p) == (method, path))
    declared = permission_of(route)
    assert len(declared) == 1, f"{method} {path} of {service} declares {sorted(declared) or 'no permission'}"


@pytest.mark.parametrize(("service", "method", "path"), ROUTES)
async def test_each_role_reaches_exactly_the_routes_of_its_permissions_and_refusals_are_audited(
    service: str, method: str, path: str, tmp_dir: Path
) -> None:
    publisher = InMemoryPublisher()
    audit = DenialAudit(AuditTrail(publisher, source="/tests/matrix"))
    app = APPS[service](tmp_dir, store(audit))
    (permission,) = permission_of(next(r for m, p, r in routes(app) if (m, p) == (method, path)))
    refused: list[str] = []
    async with served(app) as client:
        anonymous = await client.request(method, concrete(path), json={})
        assert anonymous.status_code == 401, f"{method} {path} answers {anonymous.status_code} without a key"
        for role in ROLES:
            # A tenant key naming another tenant still acts for its own; a service key acts for the one it names.
            key, key_id = (
                (key_of("any", role), "svc") if role == SERVICE_ROLE else (key_of("alpha", role), f"alpha-{role}")
            )
            named = "alpha" if role == SERVICE_ROLE else "beta"
            headers = {"Authorization": f"Bearer {key}", TENANT_HEADER: named}
            status = (await client.request(method, concrete(path), json={}, headers=headers)).status_code
            if permission in ROLE_PERMISSIONS[role]:
                assert status not in (401, 403), f"{role} may {permission} but {method} {path} answered {status}"
            else:
                assert status == 403, f"{role} lacks {permission} but {method} {path} answered {status}"
                refused.append(key_id)
        await audit.drain()
    entries = [(e.data.actor.id, e.data.outcome, e.tenant_id) for e in publisher.on(AuditRecorded.topic)]
    # A privileged read allowed to a role is on the trail too (outcome success: test_privileged_reads.py).
    assert [e for e in entries if e[1] == "denied"] == [(key_id, "denied", "alpha") for key_id in refused]


@pytest.mark.parametrize(("service", "method", "path"), ROUTES)
def test_no_request_body_names_a_tenant_or_a_role(service: str, method: str, path: str, tmp_dir: Path) -> None:
    """Mass assignment: the tenant comes from the key, a role from what the caller may grant; a body field for
    either would let a caller choose them. Checked on the route's documented body (its model, or the schema a
    route that reads its body itself declares)."""
    app = APPS[service](tmp_dir, None)
    operation = app.openapi()["paths"][path.replace(":path}", "}")][method.lower()]
    fields = _top_level_fields(app.openapi(), operation.get("requestBody"))
    allowed = {"role"} if (service, method, path) in BODY_ROLE_ALLOWED else set()
    assert (fields & OWNER_FIELDS) - allowed == set(), f"{method} {path} of {service} takes {fields & OWNER_FIELDS}"


def _top_level_fields(document: dict[str, Any], body: dict[str, Any] | None) -> set[str]:
    if body is None:
        return set()
    names: set[str] = set()
    for media in body.get("content", {}).values():
        names |= _properties(document, media.get("schema", {}))
    return names


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _properties(document, document["components"]["schemas"][name])
    found = set(schema.get("properties", {}))
    for part in (*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ())):
        found |= _properties(document, part)
    return found
