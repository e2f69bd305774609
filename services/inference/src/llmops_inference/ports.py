"""What the gateway needs from the outside world, as small protocols.

* :class:`Backend`: one upstream (a Triton server, an OpenAI-compatible API) that generates and embeds.
* Events go out through the kit's :class:`~llmops_kit.kafka.publisher.EventPublisher`.
* Seams other parts of the gateway plug into, each with a no-op default in :mod:`llmops_inference.adapters.noop`:
  :class:`VariantChooser` (experiments: A/B, canary, shadow), :class:`PromptResolver` (the prompt registry)
  and :class:`BudgetGuard` (budgets, owned by the cost service later).

For a chat completion the gateway calls, in order: ``PromptResolver.chain`` (a prompt chain runs each of
its steps as the chat completion below), ``VariantChooser.choose`` (which arm, and which shadow copies), then
``PromptResolver.resolve`` on the chosen request and on each shadow request, then ``BudgetGuard.check`` for
the primary call; after the call, ``BudgetGuard.charge`` with its usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from llmops_schemas.v1.calls import ExperimentRef
from llmops_schemas.v1.common import PromptRef

from llmops_inference.api_models import ChatCompletionRequest
from llmops_inference.domain import Delta, Embeddings, Generation, GenerationRequest, Usage
from llmops_inference.policies.rules import Refusal
from llmops_inference.prompts.resolve import PromptChain
from llmops_inference.routing_table import Target

__all__ = [
    "Backend",
    "BudgetDecision",
    "BudgetGuard",
    "CallContext",
    "ExperimentPlan",
    "PolicyGuard",
    "PromptResolver",
    "Resolved",
    "ShadowCall",
    "VariantChooser",
]


class Backend(Protocol):
    """One upstream server. Failures raise :class:`~llmops_inference.domain.UpstreamError` (never anything else
    for a network or protocol problem), so the router can retry, fall back and count them in the breaker.

    ``target.model`` is the upstream's name for the model and ``target.timeout_s`` the budget of one attempt.
    """

    name: str

    async def start(self) -> None:
        """Open connection pools (called in the app's lifespan)."""

    async def stop(self) -> None:
        """Close them."""

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        """A whole answer."""
        ...

    def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        """The answer as it is produced; the last deltas carry ``finish_reason`` and, if known, ``usage``."""
        ...

    async def embed(self, texts: list[str], target: Target, dimensions: int | None) -> Embeddings:
        """One vector per text, in order."""
        ...

    async def probe(self) -> bool:
        """Whether the upstream answers now (readiness); must not raise."""
        ...


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling, for which app, and the ids of this call; read-only for the seams."""

    tenant_id: str
    key_id: str
    app: str
    endpoint: Literal["chat", "completion", "embedding", "messages"]
    """The route: ``messages`` is the Claude-compatible front (``/v1/messages``), a chat call like ``chat``."""
    call_id: str
    trace_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    origin: Literal["application", "platform"] = "application"
    """``platform`` when the calling key is a platform service's (its role), never from the request."""


@dataclass(frozen=True, slots=True)
class ShadowCall:
    """A copy of the call sent to another experiment arm; its answer is recorded, never returned."""

    request: ChatCompletionRequest
    experiment: ExperimentRef
    """``shadow`` must be True."""


@dataclass(frozen=True, slots=True)
class ExperimentPlan:
    """Where a call goes: the (possibly rewritten) request, its experiment arm if any, and shadow copies."""

    request: ChatCompletionRequest
    experiment: ExperimentRef | None = None
    shadows: tuple[ShadowCall, ...] = ()


class VariantChooser(Protocol):
    """The experiments seam: picks the arm of a running experiment for a call.

    It may rewrite the request (``request.model_copy(update={...})``: another ``model``, other sampling
    parameters, or a prompt reference in its extra fields for the :class:`PromptResolver`). It must be fast
    (no I/O on the request path: experiments are materialised from their compacted topic in the background)
    and deterministic per ``context.user_id``/``session_id`` when it wants sticky assignment.
    """

    async def choose(self, request: ChatCompletionRequest, context: CallContext) -> ExperimentPlan: ...


@dataclass(frozen=True, slots=True)
class Resolved:
    """The request with its messages rendered from a prompt version, and which version that was."""

    request: ChatCompletionRequest
    prompt: PromptRef | None = None


class PromptResolver(Protocol):
    """The prompt-registry seam: turns a request that names a prompt (by an extra field such as ``prompt``
    with ``variables``; read from ``request.model_extra``) into concrete messages and default parameters.

    A request that names no prompt comes back unchanged with ``prompt=None``. Raise
    :class:`~llmops_inference.errors.GatewayError` (404 unknown prompt, 422 a missing variable) to refuse it.
    """

    def chain(self, request: ChatCompletionRequest, context: CallContext) -> PromptChain | None:
        """The request's prompt chain (its ``chain`` extension field), or ``None``; raise
        :class:`~llmops_inference.errors.GatewayError` to refuse a malformed one or one naming an unknown prompt.
        """
        ...

    async def resolve(self, request: ChatCompletionRequest, context: CallContext) -> Resolved: ...


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    allowed: bool
    message: str = ""
    retry_after_s: float | None = None


class BudgetGuard(Protocol):
    """The budget seam: may refuse a call before it is made (answered 429 ``insufficient_quota``) and is told
    what each call used afterwards. Both must be fast; ``charge`` must not raise.
    """

    async def check(self, context: CallContext, model: str) -> BudgetDecision: ...

    async def charge(self, context: CallContext, model: str, usage: Usage | None) -> None: ...


class PolicyGuard(Protocol):
    """The policy seam: refuses a call its tenant's policies forbid for its app (answered 403
    ``policy_violation``). ``texts`` are the prompt's texts as sent; the check must be fast (no I/O) and a
    refusal must quote none of them (docs/adr/0045)."""

    def check(self, context: CallContext, model: str, texts: Sequence[str]) -> Refusal | None: ...
