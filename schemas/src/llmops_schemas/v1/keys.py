"""``llmops.api_key.state_changed.v1``: the current state of one API key of a tenant.

The governance-audit service is the one writer of ``llmops.governance.keys`` (compacted, keyed
``<tenant>:<key_id>``); every service reads it whole and accepts exactly the keys it lists as valid. A key is
never stored, only its SHA-256 digest (keys are 256-bit random strings, so the digest cannot be reversed).
A revoked key keeps its record (status ``revoked``) rather than a tombstone, so that a replica that starts
later still refuses it when the keys file of a bootstrap lists it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.v1.common import CompactedPayload, Identifier, Name, Sha256Hex

__all__ = ["ApiKeyStateChanged", "KeyRole", "KeyStatus"]

KeyRole = Literal["admin", "operator", "developer", "analyst", "viewer", "reviewer", "ingest"]
"""The roles a tenant's key may carry (``llmops_kit.roles``; a service key is never on this topic)."""
KeyStatus = Literal["active", "rotated", "revoked"]
"""``rotated``: replaced by ``rotated_to``, still valid until ``expires_at`` (the grace period)."""


class ApiKeyStateChanged(CompactedPayload):
    """A key's state after a change (created, rotated, revoked); the latest record per key wins."""

    event_type: ClassVar[str] = "llmops.api_key.state_changed.v1"
    topic: ClassVar[str] = "llmops.governance.keys"

    key_id: Identifier
    name: Name = Field(description="What the key is for, chosen by its creator (not secret)")
    role: KeyRole
    sha256: Sha256Hex = Field(description="SHA-256 of the key; the key itself is shown once and never stored")
    status: KeyStatus
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops being valid (for a rotated key: the end of its grace period)"
    )
    rotated_to: Identifier | None = Field(default=None, description="The key that replaced this one")
    updated_by: Identifier = Field(description="The key id of whoever made this change (never the key)")
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _rotation_names_its_successor(self) -> ApiKeyStateChanged:
        if (self.status == "rotated") != (self.rotated_to is not None):
            raise ValueError("a rotated key names the key that replaced it (rotated_to), and only a rotated key does")
        return self

    def entity_key(self) -> str:
        return self.key_id
