"""The erasure API: a request is published with a new id and audited without the subject's value; bad input is a
422 or 413; only admins may ask; the receipts are read back through the warehouse (a fake query API here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from llmops_governance_audit.bootstrap import GovernanceAuditPorts, create_app
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_schemas.v2 import AuditRecorded, ErasureRequested

from tests.unit.governance_audit.conftest import KEYS, auth

VALUE = "Jane.Doe@example.com"


def _warehouse(stored: dict[str, list[dict[str, Any]]], seen: list[httpx.Request]) -> WarehouseReader:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        table = request.url.path.rsplit("/", 1)[-1]
        rows = [r for r in stored.get(table, []) if r["data"]["request_id"] == request.url.params["request_id"]]
        return httpx.Response(200, json={"items": rows, "next_cursor": None})

    client = PlatformClient("warehouse", "http://warehouse", "svc-key", transport=httpx.MockTransport(answer))
    return WarehouseReader(client)


@pytest.fixture
async def app_parts() -> AsyncIterator[tuple[httpx.AsyncClient, InMemoryPublisher, dict[str, Any], list[Any]]]:
    publisher = InMemoryPublisher()
    records = [ApiKeyRecord(id=n, tenant_id=t, role=r, sha256=hash_key(k)) for n, (k, t, r) in KEYS.items()]  # type: ignore[arg-type]
    stored: dict[str, list[dict[str, Any]]] = {}
    seen: list[httpx.Request] = []
    warehouse = _warehouse(stored, seen)
    await warehouse.start()
    ports = GovernanceAuditPorts(publisher, ApiKeyStore(records), warehouse=warehouse)
    app = create_app(GovernanceAuditSettings(max_body_bytes=2048), ports=ports)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://governance") as client:
        yield client, publisher, stored, seen
    await warehouse.stop()


async def test_a_request_is_published_and_audited_without_the_subjects_value(app_parts: Any) -> None:
    client, publisher, _, _ = app_parts
    body = {"subject_type": "email", "subject_value": VALUE, "reason": "GDPR art. 17 #12"}

    response = await client.post("/v1/erasures", headers=auth("acme-admin"), json=body)

    assert response.status_code == 202, response.text
    request_id = response.json()["request_id"]
    assert response.headers["location"] == f"/v1/erasures/{request_id}"
    (request,) = publisher.of(ErasureRequested)
    assert (request.request_id, request.subject_type, request.subject_value) == (request_id, "email", VALUE)
    assert request.requested_by == "acme-admin"
    (entry,) = publisher.of(AuditRecorded)
    assert (entry.action, entry.resource.id, entry.details) == (
        "erasure.request", request_id, {"request_id": request_id, "subject_type": "email"},
    )  # fmt: skip
    audit_records = [p for p in publisher.published if p.topic == AuditRecorded.topic]
    assert VALUE.lower() not in repr(audit_records).lower()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"subject_type": "email", "subject_value": "", "reason": "r"}, 422),
        ({"subject_type": "phone", "subject_value": "x", "reason": "r"}, 422),
        ({"subject_type": "user_id", "subject_value": "u\n1", "reason": "r"}, 422),
        ({"subject_type": "user_id", "subject_value": "x" * 321, "reason": "r"}, 422),
        ({"subject_type": "user_id", "subject_value": "u1", "reason": ""}, 422),
        ({"subject_type": "user_id", "subject_value": "u1", "reason": "r", "tenant_id": "beta"}, 422),
        ({"subject_type": "user_id", "subject_value": "u1", "reason": "r" * 4000}, 413),
    ],
    ids=["empty-value", "unknown-type", "control-character", "too-long", "no-reason", "tenant-in-body", "body-413"],
)
async def test_bad_input_is_refused_and_nothing_is_published(app_parts: Any, body: dict[str, Any], status: int) -> None:
    client, publisher, _, _ = app_parts
    response = await client.post("/v1/erasures", headers=auth("acme-admin"), json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert publisher.of(ErasureRequested) == []


async def test_only_an_admin_may_ask(app_parts: Any) -> None:
    client, publisher, _, _ = app_parts
    body = {"subject_type": "user_id", "subject_value": "u1", "reason": "r"}
    assert (await client.post("/v1/erasures", headers=auth("acme-dev"), json=body)).status_code == 403
    assert publisher.of(ErasureRequested) == []


def _receipt(request_id: str, service: str, counts: dict[str, int]) -> dict[str, Any]:
    data = {"request_id": request_id, "service": service, "subject_type": "user_id", "status": "completed",
            "counts": counts, "rows_affected": sum(counts.values()), "purge_deadline": "2026-03-21T09:00:00Z",
            "completed_at": "2026-03-14T09:00:00Z"}  # fmt: skip
    return {"event_id": f"e-{service}", "data": data}


async def test_the_receipts_are_read_back_per_service_for_the_callers_tenant(app_parts: Any) -> None:
    client, _, stored, seen = app_parts
    stored["erasure_requests"] = [{"event_id": "r", "data": {"request_id": "erasure-1"}}]
    pending = (await client.get("/v1/erasures/erasure-1", headers=auth("acme-admin"))).json()
    assert (pending["status"], pending["receipts"]) == ("pending", [])
    assert {"warehouse", "feedback", "evaluation"} <= set(pending["waiting_for"])

    stored["erasure_receipts"] = [
        _receipt("erasure-1", service, {"calls": 3, "feedback": 1} if service == "warehouse" else {"state": 0})
        for service in pending["waiting_for"]
    ]
    done = (await client.get("/v1/erasures/erasure-1", headers=auth("acme-admin"))).json()
    assert done["status"] == "completed" and done["waiting_for"] == []
    warehouse = next(r for r in done["receipts"] if r["service"] == "warehouse")
    assert (warehouse["counts"], warehouse["rows_affected"]) == ({"calls": 3, "feedback": 1}, 4)
    assert {r.headers["x-llmops-tenant"] for r in seen} == {"acme"}


async def test_an_unknown_request_is_a_404(app_parts: Any) -> None:
    client, _, _, _ = app_parts
    assert (await client.get("/v1/erasures/erasure-nope", headers=auth("acme-admin"))).status_code == 404
