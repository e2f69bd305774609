"""The bodies of ``/v1/policies``: what a tenant's admin writes, and what the API answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from llmops_pii.records import rule_of
from llmops_schemas.v1.common import MediumText, Name, StrictModel
from llmops_schemas.v1.governance import RETENTION_DATASETS, PiiRedactionSettings, RetentionSettings
from llmops_schemas.v2.governance import PolicyPublished, PolicySettings
from pydantic import BaseModel, Field, StrictBool, model_validator

__all__ = ["PolicyId", "PolicyList", "PolicySpec"]

PolicyId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]


class PolicySpec(StrictModel):
    """A policy as written: its ``kind`` is its settings' ``kind``; the tenant is the caller's, the version the
    registry's (one more than the stored one), the author the caller's key id."""

    name: Name
    description: MediumText | None = None
    enabled: StrictBool = True
    settings: PolicySettings = Field(description="Typed per kind: see llmops.policy.published.v2")

    @model_validator(mode="after")
    def _applicable(self) -> PolicySpec:
        """Refuse at write time what the services applying the policy would set aside: a PII record the engine
        cannot run (a custom pattern RE2 refuses, an unknown type), a retention the warehouse does not keep."""
        settings = self.settings
        if isinstance(settings, PiiRedactionSettings):
            rule_of(settings)  # raises PolicyError (a ValueError) naming the entity or pattern and why
        elif isinstance(settings, RetentionSettings):
            if settings.dataset not in RETENTION_DATASETS:
                known = ", ".join(RETENTION_DATASETS)
                raise ValueError(f"unknown retention dataset {settings.dataset!r}; known: {known}")
            if settings.action != "delete":
                raise ValueError(
                    f"retention action {settings.action!r} is not supported (only 'delete'): rows are deleted "
                    "when they expire, never kept anonymised (docs/adr/0049)"
                )
        return self


class PolicyList(BaseModel):
    """Every policy of the caller's tenant, by id."""

    policies: list[PolicyPublished]
