"""``GET /v1/retention``: how long the warehouse keeps the caller's tenant's rows, table by table."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from llmops_warehouse.entrypoints.params import CanReadMetrics, errors_of
from llmops_warehouse.retention.expiry import Retention

__all__ = ["RetentionView", "retention_router"]

retention_router = APIRouter(prefix="/v1", tags=["retention"])


class TableRetentionRow(BaseModel):
    """One table's retention: ``days`` after each row's time, from a ``policy`` or the table's ``default``."""

    model_config = ConfigDict(frozen=True)

    table: str
    dataset: str
    days: int
    source: Literal["policy", "default"]
    policy_id: str | None = None


class RefusedPolicy(BaseModel):
    """A retention policy of the tenant the warehouse does not apply (its data set keeps the default)."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    cause: str


class RetentionView(BaseModel):
    """The retention in force for one tenant; rows expire ``days`` after their time and are deleted by the
    table's TTL within ``merge_with_ttl_timeout`` (one hour) of expiring."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    tables: list[TableRetentionRow]
    refused: list[RefusedPolicy]


@retention_router.get(
    "/retention",
    response_model=RetentionView,
    summary="The retention in force per table for the caller's tenant",
    responses=errors_of("metrics:read"),
)
async def read_retention(request: Request, caller: CanReadMetrics) -> RetentionView:
    """Each table's retention for the caller's tenant (the policy that set it, or the table's default), and the
    tenant's retention policies the warehouse refused, with why."""
    retention: Retention = request.app.state.retention
    tenant = caller.tenant_id
    tables = [TableRetentionRow(**asdict(t)) for t in retention.tenant(tenant)]
    refused = [] if retention.policies is None else retention.policies.refused(tenant)
    return RetentionView(
        tenant_id=tenant, tables=tables, refused=[RefusedPolicy(policy_id=r.policy_id, cause=r.cause) for r in refused]
    )
