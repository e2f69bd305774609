"""``llmops.policy.published.v1``: the current version of a governance policy.

A policy's ``settings`` are typed per ``kind`` (a discriminated union on ``settings.kind``); each
settings model has an ``options`` map for knobs that are not modelled (yet), so a service can trial a
setting without a schema change. A new kind of policy is a new settings model, i.e. a schema change
that the compatibility check reports.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, StringConstraints, model_validator

from llmops_schemas.v1.common import CompactedPayload, Identifier, MediumText, Name, Slug, StrictModel

__all__ = [
    "RETENTION_DATASETS",
    "PiiPattern",
    "PiiRedactionSettings",
    "PolicyKind",
    "PolicyPublished",
    "PolicySettings",
    "RbacRoleSettings",
    "RetentionSettings",
]

RETENTION_DATASETS = ("calls", "evaluations", "feedback", "datasets", "costs", "drift", "alerts", "audit", "config")
"""The data sets a ``retention`` policy can name (the warehouse maps each to its tables, docs/adr/0049)."""

PolicyKind = Literal["pii_redaction", "retention", "rbac_role"]
PiiTarget = Literal["messages", "output", "metadata"]
Options = Annotated[dict[str, JsonValue], Field(max_length=64)]
Permission = Annotated[str, StringConstraints(max_length=128, pattern=r"^([a-z][a-z0-9_]*|\*):([a-z][a-z0-9_]*|\*)$")]
"""``resource:action``, either part may be ``*``, e.g. ``prompts:publish`` or ``calls:*``."""


class PiiPattern(StrictModel):
    """A tenant-specific kind of personal data, recognised by a regular expression."""

    name: Slug
    regex: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PiiRedactionSettings(StrictModel):
    """Which personal data to find in calls, where to look, and what to put in its place."""

    kind: Literal["pii_redaction"] = "pii_redaction"
    entities: Annotated[list[Slug], Field(min_length=1, max_length=64)] = Field(
        description="Built-in detectors, e.g. 'email', 'phone', 'credit_card', 'iban', 'ip_address'"
    )
    custom_patterns: Annotated[list[PiiPattern], Field(max_length=64)] = Field(default_factory=list)
    targets: Annotated[list[PiiTarget], Field(min_length=1, max_length=3)] = Field(
        default_factory=lambda: list[PiiTarget](["messages", "output"]),
        description="Where to look: message contents, the output, metadata values",
    )
    action: Literal["mask", "hash", "drop"] = Field(
        default="mask", description="mask: '[EMAIL]'; hash: a keyed hash; drop: remove the whole text"
    )
    options: Options = Field(default_factory=dict)


class RetentionSettings(StrictModel):
    """How long one data set is kept before it is deleted or anonymised."""

    kind: Literal["retention"] = "retention"
    dataset: Slug = Field(description="e.g. 'calls', 'evaluations', 'feedback', 'costs', 'audit'")
    days: int = Field(strict=True, ge=1, le=36_500)
    action: Literal["delete", "anonymize"] = "delete"
    options: Options = Field(default_factory=dict)


class RbacRoleSettings(StrictModel):
    """A role and the permissions it grants."""

    kind: Literal["rbac_role"] = "rbac_role"
    role: Slug
    permissions: Annotated[list[Permission], Field(max_length=256)]
    options: Options = Field(default_factory=dict)


PolicySettings = Annotated[PiiRedactionSettings | RetentionSettings | RbacRoleSettings, Field(discriminator="kind")]


class PolicyPublished(CompactedPayload):
    """A policy's current version (compacted: the latest record per policy wins; a tombstone deletes it)."""

    event_type: ClassVar[str] = "llmops.policy.published.v1"
    topic: ClassVar[str] = "llmops.policies"

    policy_id: Identifier
    name: Name
    kind: PolicyKind
    version: int = Field(ge=1, description="Increases with every change of this policy")
    enabled: bool = True
    description: MediumText | None = None
    settings: PolicySettings
    updated_by: Identifier
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _settings_match_kind(self) -> PolicyPublished:
        if self.settings.kind != self.kind:
            raise ValueError(f"settings of kind {self.settings.kind!r} do not belong to a {self.kind!r} policy")
        return self

    def entity_key(self) -> str:
        return self.policy_id
