"""A tenant's opt-in for the evaluation service to act on an A/B experiment's verdict."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from llmops_schemas.v1.common import CompactedPayload, Identifier, Name

__all__ = ["VerdictPolicySet"]


class VerdictPolicySet(CompactedPayload):
    """What the evaluation service may do to one gateway experiment once its verdict is in (compacted: the
    latest record per experiment wins).

    ``promote``: when a variant is better, give it every call (the gateway's experiment API, weights).
    ``rollback``: when the variants are worse, give the control every call. A policy acts once: acting
    publishes the policy again with both switched off and ``last_action`` saying what was done. ``deleted``
    removes it (kept as a record, not a tombstone, so the history says when).
    """

    event_type: ClassVar[str] = "llmops.evaluation.verdict_policy_set.v1"
    topic: ClassVar[str] = "llmops.evaluations.policies"

    experiment_id: Identifier = Field(description="The gateway experiment the policy acts on")
    promote: bool = Field(default=False, description="Give a better variant every call")
    rollback: bool = Field(default=False, description="Give the control every call when the variants are worse")
    metric: Name | None = Field(default=None, description="Primary metric (default: the experiment's)")
    alpha: float | None = Field(default=None, gt=0, lt=0.5, description="False-positive rate (default: the service's)")
    last_action: Literal["promoted", "rolled_back"] | None = Field(default=None, description="What the policy did")
    last_action_at: AwareDatetime | None = None
    deleted: bool = Field(default=False, description="True removes the policy")
    updated_by: Identifier
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return self.experiment_id
