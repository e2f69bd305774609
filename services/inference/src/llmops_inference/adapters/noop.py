"""Default adapters of the seams: no experiments, no prompt registry, no budgets.

The experiments and prompt-registry packages replace the first two in ``bootstrap``; the cost service's
budget check replaces the third.
"""

from __future__ import annotations

from llmops_inference.api_models import CHAIN_FIELD, ChatCompletionRequest
from llmops_inference.domain import Usage
from llmops_inference.errors import GatewayError
from llmops_inference.ports import BudgetDecision, CallContext, ExperimentPlan, Resolved
from llmops_inference.prompts.resolve import PromptChain

__all__ = ["NoBudgets", "NoExperiments", "NoPromptRegistry"]


class NoExperiments:
    """Every call goes where its request says, with no shadow copies."""

    async def choose(self, request: ChatCompletionRequest, context: CallContext) -> ExperimentPlan:
        return ExperimentPlan(request=request)


class NoPromptRegistry:
    """Requests are sent as they are (a ``prompt`` field ignored); no call refers to a prompt version.

    A ``chain`` cannot be sent as it is (it has no messages to send), so it is refused, as ``/v1/completions``
    refuses one, rather than answered as if it were not there.
    """

    def chain(self, request: ChatCompletionRequest, context: CallContext) -> PromptChain | None:
        if (request.model_extra or {}).get(CHAIN_FIELD) is None:
            return None
        raise GatewayError(
            400,
            "'chain' needs the prompt registry, which this gateway does not run",
            param=CHAIN_FIELD,
            code="unsupported",
        )

    async def resolve(self, request: ChatCompletionRequest, context: CallContext) -> Resolved:
        return Resolved(request=request)


class NoBudgets:
    """Every call is within budget; usage goes nowhere."""

    async def check(self, context: CallContext, model: str) -> BudgetDecision:
        return BudgetDecision(allowed=True)

    async def charge(self, context: CallContext, model: str, usage: Usage | None) -> None:
        return None
