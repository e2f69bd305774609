"""What the handlers need beyond publishing (events go out through the kit's ``EventPublisher``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from llmops_schemas.v2 import CallRecorded

if TYPE_CHECKING:
    from llmops_evaluation.evaluators import Evaluator
    from llmops_evaluation.semantic.base import Embedder

__all__ = ["CallHistory", "EvaluatorLookup", "JudgeGateway", "JudgePorts"]


class EvaluatorLookup(Protocol):
    """Which evaluators score a call: the materialised configuration (``EvaluatorStore``) or a test's own."""

    @property
    def caught_up(self) -> bool:
        """Whether the whole configuration is loaded (before that, no call is scored: it would miss some)."""
        ...

    def for_call(self, tenant: str, call: CallRecorded) -> list[Evaluator]:
        """The tenant's evaluators whose scope, origin rule and sample take ``call``."""
        ...


class JudgeGateway(Protocol):
    """The gateway as judges use it, with the service key (their calls are recorded as platform traffic)."""

    async def chat(self, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A chat completion's answer (OpenAI's shape); raises ``PlatformCallError`` when the gateway refuses."""
        ...

    async def prompt_version(self, tenant: str, name: str, label: str) -> int | None:
        """The version ``label`` of prompt ``name`` points at now (None: no such prompt or label)."""
        ...

    async def has_version(self, tenant: str, name: str, version: int) -> bool:
        """Whether prompt ``name`` has ``version``."""
        ...

    async def models(self, tenant: str) -> list[str]:
        """The public model names (routes) the gateway serves."""
        ...


class CallHistory(Protocol):
    """Stored calls, read through the warehouse's query API (a pairwise judge's other call)."""

    async def call(self, tenant: str, call_id: str) -> CallRecorded | None:
        """The tenant's call ``call_id``, or None when the warehouse has none (yet)."""
        ...


@dataclass(frozen=True, slots=True)
class JudgePorts:
    """What model-backed evaluators may use; ``history`` None: pairwise judges record an error.

    ``embedder(tenant, model)`` gives the semantic evaluators an embedder acting for ``tenant`` (the gateway's
    ``/v1/embeddings`` with that model); None: they record an error.
    """

    gateway: JudgeGateway
    history: CallHistory | None = None
    embedder: Callable[[str, str], Embedder] | None = None
