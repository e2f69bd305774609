"""What the handlers need beyond publishing (events go out through the kit's ``EventPublisher``)."""

from __future__ import annotations

from typing import Protocol

from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.evaluators import Evaluator

__all__ = ["EvaluatorLookup"]


class EvaluatorLookup(Protocol):
    """Which evaluators score a call: the materialised configuration (``EvaluatorStore``) or a test's own."""

    @property
    def caught_up(self) -> bool:
        """Whether the whole configuration is loaded (before that, no call is scored: it would miss some)."""
        ...

    def for_call(self, tenant: str, call: CallRecorded) -> list[Evaluator]:
        """The tenant's evaluators whose scope, origin rule and sample take ``call``."""
        ...
