"""The bodies of ``/v1/policies``: what a tenant's admin writes, and what the API answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from llmops_schemas.v1.common import MediumText, Name, StrictModel
from llmops_schemas.v2.governance import PolicyPublished, PolicySettings
from pydantic import BaseModel, Field

__all__ = ["PolicyId", "PolicyList", "PolicySpec"]

PolicyId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]


class PolicySpec(StrictModel):
    """A policy as written: its ``kind`` is its settings' ``kind``; the tenant is the caller's, the version the
    registry's (one more than the stored one), the author the caller's key id."""

    name: Name
    description: MediumText | None = None
    enabled: bool = True
    settings: PolicySettings = Field(description="Typed per kind: see llmops.policy.published.v2")


class PolicyList(BaseModel):
    """Every policy of the caller's tenant, by id."""

    policies: list[PolicyPublished]
