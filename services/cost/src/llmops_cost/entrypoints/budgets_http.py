"""HTTP API of budgets: ``PUT /v1/budgets/{budget_id}`` (``admin``, audited), ``GET /v1/budgets`` and
``GET /v1/budgets/{budget_id}`` (``metrics:read``) with the current period's spend.

The gateway enforces a budget whose ``action`` is ``block`` (429 ``insufficient_quota``); every budget publishes
its thresholds (50/80/100 % by default) on ``llmops.budgets.events``. The routes find the
:class:`~llmops_cost.budgets.BudgetDesk` on ``app.state.budgets``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError

from llmops_cost.budgets import BudgetDesk, BudgetIn, BudgetView
from llmops_cost.entrypoints.http import PROBLEMS

__all__ = ["BUDGETS", "budgets_router"]

BUDGETS = "budgets"
BudgetId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]


def _desk(request: Request) -> BudgetDesk:
    desk = getattr(request.app.state, BUDGETS, None)
    if not isinstance(desk, BudgetDesk):
        raise ProblemError(503, "Service Unavailable", "budgets are starting")
    return desk


Desk = Annotated[BudgetDesk, Depends(_desk)]
Reader = Annotated[Principal, Depends(requires("metrics:read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]

budgets_router = APIRouter(tags=["budgets"], responses=PROBLEMS)


@budgets_router.get("/v1/budgets", response_model=list[BudgetView], summary="The tenant's budgets and their spend")
async def list_budgets(desk: Desk, caller: Reader) -> list[BudgetView]:
    """Every budget of the caller's tenant with its current period's spend and reservations."""
    return desk.list(caller.tenant_id)


@budgets_router.get("/v1/budgets/{budget_id}", response_model=BudgetView, summary="One budget and its spend")
async def get_budget(budget_id: BudgetId, desk: Desk, caller: Reader) -> BudgetView:
    """The budget (404 when the tenant has none by that id) with its current period's spend."""
    return desk.get(caller.tenant_id, budget_id)


@budgets_router.put("/v1/budgets/{budget_id}", response_model=BudgetView, summary="Define or change a budget")
async def put_budget(budget_id: BudgetId, body: BudgetIn, request: Request, desk: Desk, caller: Admin) -> BudgetView:
    """Publish the definition on ``llmops.budgets.config`` with its audit entry; the gateways apply it within
    moments (they follow the topic), a ``block`` budget from then on refuses calls that would overspend it."""
    return await desk.put(caller.tenant_id, Actor.of(caller, request), budget_id, body)
