"""``/v1/erasures``: a tenant's admins ask for a data subject's erasure and read its receipts.

Both routes need ``erasure:request`` (the ``admin`` role: erasure destroys data). ``POST`` publishes
``llmops.erasure.requested.v2`` with a new request id and answers 202: every service holding personal data
erases on its own and publishes a receipt. The audit entry names the request and the subject's type, never its
value (the chain is never erased: docs/adr/0043). ``GET`` reads the receipts back through the warehouse.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Path, Request, Response
from llmops_kit.access_audit import refuse_owner_fields
from llmops_kit.audit import Actor, AuditTrail, identifier
from llmops_kit.auth import Principal, requires
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.kafka.topics import TopicCatalog
from llmops_kit.platform_client import WarehouseReader
from llmops_kit.warehouse import HistoryError, HistoryUnavailable
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v2 import ErasureRequested
from pydantic import JsonValue

from llmops_governance_audit.erasures.model import ErasureAccepted, ErasureCreate, ErasureReceipt, ErasureStatus

__all__ = ["ERASURES", "ErasureDesk", "erasures_router"]

ERASURES = "erasure_desk"
"""Where the app keeps its :class:`ErasureDesk` (``app.state``)."""
MAX_RECEIPTS = 64
_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)
RequestId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]
Eraser = Annotated[Principal, Depends(requires("erasure:request"))]


class ErasureDesk:
    """What the routes need: the publisher (with the audit trail), the warehouse reader, the limits."""

    def __init__(
        self,
        publisher: EventPublisher,
        warehouse: WarehouseReader | None,
        *,
        source: str,
        publish_timeout_s: float = 10.0,
        retry_after_s: int = 5,
    ) -> None:
        self.audit = AuditTrail(publisher, source=source)
        self.warehouse, self.source = warehouse, source
        self.publish_timeout_s, self.retry_after_s = publish_timeout_s, retry_after_s
        self.erasers = tuple(TopicCatalog.load().get(ErasureRequested.topic).consumers)


async def _caller(request: Request, caller: Eraser) -> Principal:
    await refuse_owner_fields(request, caller)
    return caller


def _desk(request: Request) -> ErasureDesk:
    desk = getattr(request.app.state, ERASURES, None)
    if not isinstance(desk, ErasureDesk):
        raise ProblemError(503, "Service Unavailable", "erasure is not configured")
    return desk


Desk = Annotated[ErasureDesk, Depends(_desk)]
Caller = Annotated[Principal, Depends(_caller)]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        400: "The body is not JSON",
        401: "No, an unknown, a revoked or an expired API key",
        403: "The key's role lacks `erasure:request`",
        404: "No such request in the caller's tenant (yet: a new one is stored within seconds)",
        413: "The body is larger than the service accepts",
        422: "The body is not valid (an unknown subject type, an empty or too long value) or names a tenant",
        503: "Kafka did not store the request, or the warehouse cannot be read now (see Retry-After)",
    }.items()
}
erasures_router = APIRouter(prefix="/v1/erasures", tags=["erasure"], responses=PROBLEMS)


@erasures_router.post("", status_code=202, response_model=ErasureAccepted, summary="Erase a data subject")
async def request_erasure(
    spec: ErasureCreate, request: Request, response: Response, caller: Caller, desk: Desk
) -> ErasureAccepted:
    """Publish an erasure request for the subject; each service erases and sends a receipt (``GET`` below)."""
    request_id = f"erasure-{new_uuid7()}"
    actor = Actor.of(caller, request)
    payload = ErasureRequested(
        request_id=request_id, subject_type=spec.subject_type, subject_value=spec.subject_value,
        requested_by=identifier(caller.key_id), reason=spec.reason, requested_at=datetime.now(UTC),
    )  # fmt: skip
    event = CloudEvent.wrap(
        payload, source=desk.source, tenant_id=caller.tenant_id, subject=f"erasure/{request_id}", key_id=caller.key_id
    )
    # Never the value, nor an unkeyed hash of it (a guessed address would be confirmed by hashing it).
    shown: dict[str, JsonValue] = {"request_id": request_id, "subject_type": spec.subject_type}
    audited = desk.audit.publish_with(
        caller.tenant_id, actor, action="erasure.request", resource=("erasure", request_id), details=shown,
        events=[event], after=shown,
    )  # fmt: skip
    try:
        await asyncio.wait_for(audited, desk.publish_timeout_s)
    except _UNAVAILABLE as exc:
        detail = f"the request could not be stored: {type(exc).__name__}"
        raise ProblemError(503, "Service Unavailable", detail, retry_after=desk.retry_after_s) from exc
    location = f"/v1/erasures/{request_id}"
    response.headers["Location"] = location
    return ErasureAccepted(request_id=request_id, receipts=location)


@erasures_router.get("/{request_id:path}", response_model=ErasureStatus, summary="An erasure's receipts")
async def erasure_status(request_id: RequestId, caller: Eraser, desk: Desk) -> ErasureStatus:
    """The receipts of the request so far, per service, and which services have not answered yet."""
    requests = await _read(desk, caller.tenant_id, "erasure_requests", request_id, 1)
    receipts = [ErasureReceipt.of(row["data"]) for row in await _read(desk, caller.tenant_id, "erasure_receipts",
                                                                       request_id, MAX_RECEIPTS)]  # fmt: skip
    if not requests and not receipts:
        raise ProblemError(404, "Not Found", f"no erasure {request_id!r} stored (yet: a new one is within seconds)")
    answered = {r.service for r in receipts}
    waiting = [service for service in desk.erasers if service not in answered]
    failed = any(r.status == "failed" for r in receipts)
    status = "failed" if failed else "pending" if waiting else "completed"
    receipts.sort(key=lambda r: r.service)
    return ErasureStatus(request_id=request_id, status=status, waiting_for=waiting, receipts=receipts)


async def _read(desk: ErasureDesk, tenant: str, table: str, request_id: str, most: int) -> list[dict[str, Any]]:
    if desk.warehouse is None:
        raise ProblemError(503, "Service Unavailable", "no warehouse is configured (LLMOPS_WAREHOUSE_URL)")
    try:
        found = await desk.warehouse.read(tenant, table, {"request_id": request_id}, most)
    except HistoryUnavailable as exc:
        raise ProblemError(503, "Service Unavailable", str(exc), retry_after=exc.retry_after_s) from None
    except HistoryError as exc:
        raise ProblemError(503, "Service Unavailable", str(exc), retry_after=desk.retry_after_s) from None
    latest: dict[str, dict[str, Any]] = {}
    for row in found.rows:  # newest first: a service's latest receipt wins
        latest.setdefault(row["data"].get("service", row["event_id"]), row)
    return list(latest.values())
