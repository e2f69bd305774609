"""The gateway's budget check over the kit's ledger: 100 concurrent calls on a nearly spent budget.

Admitted reservations never exceed what remains, so the overspend is at most the sum of (actual - estimate)
over the admitted calls; everything else is refused with 429 ``insufficient_quota`` before any upstream call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from llmops_inference.adapters.budgets import LedgerBudgets
from llmops_kit.budgets import BudgetLedger
from llmops_schemas.v1 import BudgetConfigured, BudgetScope

from tests.unit.inference.support import KEYS, assert_openai_error, chat

LIMIT, SPENT, ESTIMATE, ACTUAL = Decimal("1.00"), Decimal("0.95"), Decimal("0.01"), Decimal("0.013")


def _budget() -> BudgetConfigured:
    return BudgetConfigured(
        budget_id="acme-daily", name="acme daily", scope=BudgetScope(kind="tenant"), period="daily", limit=LIMIT,
        action="block", version=1, updated_by="admin", updated_at=datetime.now(UTC),
    )  # fmt: skip


def _cost(call_id: str, amount: Decimal, model: str) -> Any:
    """A cost event started now, read at the call (the budget's day is the real clock's, past midnight too)."""
    return SimpleNamespace(call_id=call_id, cost=amount, app="default", model=model, key_id=None, user_id=None,
                           call_started_at=datetime.now(UTC))  # fmt: skip


async def test_concurrent_calls_on_a_nearly_spent_budget_overspend_at_most_actual_minus_estimate(
    make_harness: Callable[..., Any],
) -> None:
    ledger = BudgetLedger(default_estimate=ESTIMATE)
    ledger.put("acme", _budget())
    ledger.record("acme", "seen-1", _cost("earlier", SPENT, "another-model"))
    auth = {"Authorization": f"Bearer {KEYS['writer'][0]}"}
    async with make_harness(budget=LedgerBudgets(ledger)) as gw:
        answers = await asyncio.gather(
            *(gw.client.post("/v1/chat/completions", json=chat(), headers=auth) for _ in range(100))
        )
        admitted = [a for a in answers if a.status_code == 200]
        refused = [a for a in answers if a.status_code != 200]
        for answer in refused:
            error = assert_openai_error(answer, 429, code="budget_exceeded")
            assert error["type"] == "insufficient_quota" and "acme daily" in error["message"]
            assert 0 < int(answer.headers["retry-after"]) <= 86_400  # when the daily budget resets
        assert len(admitted) == int((LIMIT - SPENT) / ESTIMATE)
        for answer in admitted:  # the cost service prices each admitted call: its event settles the reservation
            ledger.record("acme", f"cost-{answer.json()['id']}", _cost(answer.json()["id"], ACTUAL, "gpt-test"))
        spent = ledger.spend("acme", "acme-daily")
        assert spent is not None and spent[2] == 0  # nothing reserved any more
        assert spent[1] - LIMIT <= len(admitted) * (ACTUAL - ESTIMATE)
        platform = {"Authorization": f"Bearer {KEYS['service'][0]}", "X-LLMOps-Tenant": "acme"}
        assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=platform)).status_code == 200
