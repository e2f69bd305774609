"""The gateway's budget check: the :class:`~llmops_inference.ports.BudgetGuard` over the kit's budget ledger.

Budgets are defined through the cost service (``llmops.budgets.config``) and their spend counted from the cost
events (``llmops.costs.recorded``); :class:`~llmops_kit.budget_feed.BudgetFeed` keeps this replica's ledger
current in the background, so the check itself is a walk over the tenant's budgets in memory (no I/O). A call
reserves its estimate on each blocking budget it falls under; its cost event settles it (docs/adr/0038).

Until the budgets are loaded (Kafka unreachable at start) calls are admitted: the gateway serves without Kafka
(:meth:`LedgerBudgets.loaded` says whether they are). Platform traffic (a service key's calls) is never refused:
the platform's own calls are not the tenant's application spend.
"""

from __future__ import annotations

from llmops_kit.budget_feed import BudgetFeed
from llmops_kit.budgets import BudgetLedger

from llmops_inference.domain import Usage
from llmops_inference.ports import BudgetDecision, CallContext

__all__ = ["LedgerBudgets"]


class LedgerBudgets:
    """Reserve on check; the reservation is settled by the call's cost event (or released after its hold)."""

    def __init__(self, ledger: BudgetLedger, feed: BudgetFeed | None = None) -> None:
        self.ledger = ledger
        self.feed = feed

    async def check(self, context: CallContext, model: str) -> BudgetDecision:
        if context.origin == "platform":
            return BudgetDecision(allowed=True)
        decision = self.ledger.reserve(
            context.tenant_id,
            context.call_id,
            app=context.app,
            key_id=context.key_id,
            user_id=context.user_id,
            model=model,
        )
        return BudgetDecision(decision.allowed, decision.message, decision.retry_after_s)

    async def charge(self, context: CallContext, model: str, usage: Usage | None) -> None:
        return None  # the cost service prices the call; its cost event replaces the reservation

    async def start(self) -> None:
        if self.feed is not None:
            await self.feed.start()

    async def stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()

    async def loaded(self) -> bool:
        return self.feed is None or self.feed.ready
