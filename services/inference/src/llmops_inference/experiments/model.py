"""Experiments as a pure domain: definitions and changes, which traffic one applies to, and who gets which variant.

Assignment is sticky: a unit (the user id, else the session id) is hashed with the experiment id to a
point in ``[0, 1)`` (SHA-256, first 8 bytes), and the point falls into a variant's slice of the line.
Slices are laid out control first, then the other variants in their order, so raising a canary's
weight only moves control users into the canary and never moves a canary user back. The experiment
version is not part of the hash: changing weights keeps everyone else where they were.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from llmops_schemas.v1 import CallParameters, ExperimentConfigured, ExperimentRef, ExperimentVariant, PromptRef
from llmops_schemas.v1.common import Fraction, Identifier, MediumText, Name, Slug
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmops_inference.experiments.errors import InvalidExperiment

__all__ = [
    "AssignedVariant",
    "Assignment",
    "ExperimentChange",
    "ExperimentDraft",
    "Target",
    "assign",
    "bucket",
    "is_live",
    "matches",
    "target",
]

Unit = Literal["user", "session", "random"]


class ExperimentDraft(BaseModel):
    """A new experiment, as an API client sends it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: Identifier | None = Field(default=None, description="Default: generated")
    name: Name
    description: MediumText | None = None
    app: Name = Field(description="The app whose calls the experiment routes")
    kind: Literal["ab", "canary", "shadow"]
    control: Slug = Field(description="The baseline variant (canary: the incumbent; shadow: the one that answers)")
    variants: Annotated[list[ExperimentVariant], Field(min_length=2, max_length=16)]
    primary_metric: Name | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    start: bool = Field(strict=True, default=True, description="Start at once (status running); false creates a draft")


class ExperimentChange(BaseModel):
    """A change of a running, paused or draft experiment: weights, the canary's share, status, text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: Annotated[dict[Slug, Fraction], Field(max_length=16)] | None = Field(
        default=None, description="Weight per variant; the control's may be left out and gets the rest"
    )
    canary_weight: Fraction | None = Field(
        default=None, description="Canary only: the candidate's share (the control gets the rest)"
    )
    status: Literal["running", "paused"] | None = Field(default=None, description="Start or resume, or pause")
    description: MediumText | None = None
    ends_at: AwareDatetime | None = None
    expected_version: int | None = Field(
        strict=True, default=None, ge=1, description="Refuse (409) if the version is another"
    )

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if self.weights is not None and self.canary_weight is not None:
            raise ValueError("give weights or canary_weight, not both")
        if not self.model_fields_set - {"expected_version"}:
            raise ValueError("nothing to change")
        return self


@dataclass(frozen=True)
class Target:
    """The traffic an experiment applies to: calls of its app naming ``prompt`` (or else for ``model``)."""

    app: str
    prompt: str | None
    model: str | None


@dataclass(frozen=True)
class AssignedVariant:
    """A variant a call goes to, and the reference to record on the call."""

    variant: ExperimentVariant
    ref: ExperimentRef

    @property
    def model(self) -> str | None:
        return self.variant.model

    @property
    def provider(self) -> str | None:
        return self.variant.provider

    @property
    def prompt(self) -> PromptRef | None:
        return self.variant.prompt

    @property
    def parameters(self) -> CallParameters | None:
        return self.variant.parameters


@dataclass(frozen=True)
class Assignment:
    """Where a call goes: ``primary`` answers; ``shadow``, if any, gets a copy whose answer is never returned."""

    experiment_id: str
    experiment_version: int
    kind: str
    primary: AssignedVariant
    shadow: AssignedVariant | None = None
    unit: Unit = "random"


# --- definitions -------------------------------------------------------------------------------------


def validated(fields: dict[str, object]) -> ExperimentConfigured:
    """An ``ExperimentConfigured`` from ``fields`` that also obeys the rules of its kind."""
    try:
        experiment = ExperimentConfigured.model_validate(fields)
    except ValidationError as exc:
        raise InvalidExperiment(f"invalid experiment: {_describe(exc)}") from None
    problems = kind_problems(experiment)
    if problems:
        raise InvalidExperiment(f"invalid {experiment.kind} experiment: {'; '.join(problems)}", problems=problems)
    return experiment


def kind_problems(experiment: ExperimentConfigured) -> list[str]:
    """What the schema does not check: a canary has one candidate; the control says which traffic it takes."""
    problems = []
    if experiment.kind == "canary" and len(experiment.variants) != 2:
        problems.append("a canary has exactly two variants: the control and one candidate")
    control = experiment.variant(experiment.control)
    if experiment.kind == "shadow" and control.weight <= 0:
        problems.append("the control of a shadow experiment answers every call; its weight is 1 minus the copies'")
    if control.prompt is None and control.model is None:
        problems.append("the control must name a prompt version or a model: that is the traffic the experiment takes")
    return problems


def reweighted(experiment: ExperimentConfigured, change: ExperimentChange) -> list[ExperimentVariant]:
    """The variants with the weights ``change`` asks for (unchanged when it asks for none)."""
    if change.canary_weight is not None:
        if experiment.kind != "canary":
            raise InvalidExperiment(f"canary_weight applies to canary experiments; this one is {experiment.kind}")
        candidate = next(v.name for v in experiment.variants if v.name != experiment.control)
        weights = {candidate: change.canary_weight}
    elif change.weights is not None:
        weights = dict(change.weights)
    else:
        return list(experiment.variants)
    names = {v.name for v in experiment.variants}
    unknown = sorted(set(weights) - names)
    if unknown:
        raise InvalidExperiment(f"no such variants: {', '.join(unknown)} (variants: {', '.join(sorted(names))})")
    missing = sorted(names - set(weights) - {experiment.control})
    if missing:
        raise InvalidExperiment(f"give a weight for every variant but the control; missing: {', '.join(missing)}")
    if experiment.control not in weights:
        weights[experiment.control] = round(1 - math.fsum(weights.values()), 12)
        if weights[experiment.control] < 0:
            raise InvalidExperiment("the weights of the other variants add up to more than 1")
    return [v.model_copy(update={"weight": weights[v.name]}) for v in experiment.variants]


def target(experiment: ExperimentConfigured) -> Target:
    control = experiment.variant(experiment.control)
    return Target(app=experiment.app, prompt=control.prompt.name if control.prompt else None, model=control.model)


def matches(experiment: ExperimentConfigured, *, model: str | None, prompt_name: str | None, app: str | None) -> bool:
    """Whether a call for ``model``/``prompt_name`` (of ``app``, when the gateway knows it) is this experiment's.

    An experiment whose control names a prompt takes the calls that name that prompt; otherwise the calls
    for its control's model. With ``app`` given, only experiments of that app.
    """
    if app is not None and experiment.app != app:
        return False
    wanted = target(experiment)
    if wanted.prompt is not None:
        return prompt_name == wanted.prompt
    return wanted.model is not None and model == wanted.model


def is_live(experiment: ExperimentConfigured, now: datetime) -> bool:
    """Running, and inside its time window."""
    if experiment.status != "running":
        return False
    if experiment.starts_at is not None and now < experiment.starts_at:
        return False
    return experiment.ends_at is None or now < experiment.ends_at


# --- assignment -----------------------------------------------------------------------------------------


def bucket(experiment_id: str, unit: str) -> float:
    """The unit's fixed point in ``[0, 1)`` for this experiment: uniform, and the same on every replica."""
    digest = hashlib.sha256(f"{experiment_id}\x1f{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(
    experiment: ExperimentConfigured,
    *,
    user_id: str | None,
    session_id: str | None,
    draw: Callable[[], float],
) -> Assignment:
    """The variant(s) a call goes to: sticky per user (else session); ``draw()`` only when there is neither."""
    unit: Unit
    if user_id:
        unit, point = "user", bucket(experiment.experiment_id, f"user:{user_id}")
    elif session_id:
        unit, point = "session", bucket(experiment.experiment_id, f"session:{session_id}")
    else:
        unit, point = "random", draw()
    control = experiment.variant(experiment.control)
    others = [v for v in experiment.variants if v.name != experiment.control]
    if experiment.kind == "shadow":
        copy = _slice(others, point)
        shadow = _assigned(experiment, copy, shadow=True) if copy is not None else None
        primary = _assigned(experiment, control, shadow=False)
    else:
        chosen = _slice([control, *others], point) or control
        primary, shadow = _assigned(experiment, chosen, shadow=False), None
    return Assignment(experiment.experiment_id, experiment.version, experiment.kind, primary, shadow, unit)


def _slice(variants: list[ExperimentVariant], point: float) -> ExperimentVariant | None:
    """The variant whose slice of the line (in order, by weight) holds ``point``; None past the last slice."""
    edge = 0.0
    for variant in variants:
        edge += variant.weight
        if point < edge:
            return variant
    return None


def _assigned(experiment: ExperimentConfigured, variant: ExperimentVariant, *, shadow: bool) -> AssignedVariant:
    ref = ExperimentRef(experiment_id=experiment.experiment_id, variant=variant.name, shadow=shadow)
    return AssignedVariant(variant=variant, ref=ref)


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors(include_url=False, include_input=False)
    )
