"""``llmops.experiment.configured.v1``: the current definition of an A/B, canary or shadow experiment."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.v1.calls import CallParameters
from llmops_schemas.v1.common import (
    CompactedPayload,
    Fraction,
    Identifier,
    MediumText,
    Name,
    PromptRef,
    Slug,
    StrictModel,
)

__all__ = ["ExperimentConfigured", "ExperimentVariant"]

WEIGHT_TOLERANCE = 1e-6
"""How far the sum of the weights may be from 1 (floating-point rounding)."""


class ExperimentVariant(StrictModel):
    """One arm of an experiment: what a routed call uses instead of the application's defaults."""

    name: Slug
    weight: Fraction = Field(description="Share of traffic (shadow: share mirrored to this arm)")
    prompt: PromptRef | None = None
    model: Name | None = None
    provider: Name | None = None
    parameters: CallParameters | None = None


class ExperimentConfigured(CompactedPayload):
    """An experiment's configuration and status (compacted: the latest record per experiment wins).

    * ``ab``: each call goes to one variant, chosen by weight;
    * ``canary``: the same, with ``control`` being the incumbent and the other variant the candidate;
    * ``shadow``: ``control`` answers every call and each other variant gets a copy of the share of
      calls given by its weight; its answer is recorded (``experiment.shadow``) but never returned.

    Weights sum to 1 in every kind (in a shadow experiment the control's weight is 1 minus the rest).
    """

    event_type: ClassVar[str] = "llmops.experiment.configured.v1"
    topic: ClassVar[str] = "llmops.experiments"

    experiment_id: Identifier
    name: Name
    description: MediumText | None = None
    app: Name = Field(description="The app whose calls the experiment routes")
    kind: Literal["ab", "canary", "shadow"]
    status: Literal["draft", "running", "paused", "completed"]
    control: Slug = Field(description="Name of the baseline variant")
    variants: Annotated[list[ExperimentVariant], Field(min_length=2, max_length=16)]
    primary_metric: Name | None = Field(default=None, description="Evaluation metric that decides the winner")
    version: int = Field(ge=1, description="Increases with every change of this experiment")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    updated_by: Identifier
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfigured:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if self.control not in names:
            raise ValueError(f"control {self.control!r} is not one of the variants")
        total = math.fsum(v.weight for v in self.variants)
        if abs(total - 1) > WEIGHT_TOLERANCE:
            raise ValueError(f"variant weights must sum to 1 (they sum to {total:g})")
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def entity_key(self) -> str:
        return self.experiment_id

    def variant(self, name: str) -> ExperimentVariant:
        """The variant called ``name`` (``KeyError`` when there is none)."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"experiment {self.experiment_id!r} has no variant {name!r}")
