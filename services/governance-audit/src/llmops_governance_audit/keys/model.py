"""The keys API's bodies and answers (a key itself appears only in :class:`KeyCreated`, once)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from llmops_schemas.v1.keys import KeyRole
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["KeyCreate", "KeyCreated", "KeyList", "KeyRotate", "KeyView"]


class KeyCreate(BaseModel):
    """The body of ``POST /v1/keys``: what the key is for, its role, and how long it lives.

    The tenant is the caller's; a body naming one is refused (422, audited).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, description="What the key is for (not secret)")
    role: KeyRole = Field(description="One of the fixed roles (docs/governance.md#roles); never `service`")
    expires_in_s: int | None = Field(
        strict=True,
        default=None,
        ge=60,
        description="Lifetime in seconds (default and maximum: the service's settings)",
    )


class KeyRotate(BaseModel):
    """The body of ``POST /v1/keys/{key_id}/rotate``: how long the old key stays valid beside the new one."""

    model_config = ConfigDict(extra="forbid")

    grace_s: int | None = Field(
        strict=True, default=None, ge=0, description="Grace period (default: the service's setting)"
    )


class KeyView(BaseModel):
    """A key as its tenant's admins see it: never the key, nor its digest."""

    key_id: str
    name: str
    role: str
    status: Literal["active", "rotated", "revoked", "expired"]
    source: Literal["api", "file"] = Field(description="api: made through this service; file: the bootstrap file")
    created_at: datetime | None = None
    expires_at: datetime | None = None
    rotated_to: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


class KeyCreated(KeyView):
    """A new key: ``key`` is shown this once and stored nowhere (only its SHA-256 is)."""

    key: str


class KeyList(BaseModel):
    """The tenant's keys, revoked and expired ones included."""

    keys: list[KeyView]
