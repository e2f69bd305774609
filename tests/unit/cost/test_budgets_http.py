"""Budgets through the cost service's API (threshold events: test_thresholds.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.v1 import BudgetConfigured
from llmops_schemas.v2 import AuditRecorded

from tests.unit.cost.conftest import auth, ledger_with_budget

BUDGET = {"name": "chat daily", "scope": {"kind": "app", "value": "chat"}, "period": "daily", "limit": "5",
          "currency": "USD", "action": "block"}  # fmt: skip


async def test_a_budget_is_published_audited_and_shown_with_its_spend(
    client: httpx.AsyncClient, publisher: InMemoryPublisher
) -> None:
    answer = await client.put("/v1/budgets/chat-daily", json=BUDGET, headers=auth("admin"))
    assert answer.status_code == 200, answer.text
    (published,) = publisher.of(BudgetConfigured)
    assert (published.budget_id, published.version, published.limit) == ("chat-daily", 1, Decimal(5))
    assert publisher.of(AuditRecorded)[0].action == "budget.set"
    again = await client.put("/v1/budgets/chat-daily", json={**BUDGET, "limit": "6"}, headers=auth("admin"))
    assert again.json()["budget"]["version"] == 2
    listed = await client.get("/v1/budgets", headers=auth("reader"))
    assert [(b["budget"]["budget_id"], b["spent"]) for b in listed.json()] == [("chat-daily", "0")]
    assert (await client.get("/v1/budgets", headers=auth("other"))).json() == []
    assert (await client.get("/v1/budgets/chat-daily", headers=auth("other"))).status_code == 404


async def test_bad_budgets_are_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    cases = [
        ({"limit": "-1"}, "string of digits"), ({"limit": 5}, "never a number"), ({"currency": None}, "currency"),
        ({"scope": {"kind": "tenant", "value": "x"}}, "tenant scope"), ({"thresholds": [0.8, 0.5]}, "ascending"),
        ({"period": "hourly"}, "period"),
    ]  # fmt: skip
    for change, reason in cases:
        body = {k: v for k, v in {**BUDGET, **change}.items() if v is not None}
        answer = await client.put("/v1/budgets/b", json=body, headers=auth("admin"))
        assert answer.status_code == 422, (change, answer.text)
        assert reason in answer.text, (change, answer.text)
    assert (await client.put("/v1/budgets/b", json=BUDGET, headers=auth("reader"))).status_code == 403


async def test_a_spend_the_warehouse_seed_could_not_complete_is_shown_as_a_lower_bound(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    ledger = ledger_with_budget()
    async with make_client(ledger=ledger) as client:
        exact = await client.get("/v1/budgets/b1", headers=auth("reader"))
        assert exact.json()["spent_lower_bound"] is None
        ledger.mark_lower_bound("acme", "b1", "more than 100000 cost events before Kafka's 14 days")
        partial = await client.get("/v1/budgets/b1", headers=auth("reader"))
        assert "more than 100000" in partial.json()["spent_lower_bound"]
