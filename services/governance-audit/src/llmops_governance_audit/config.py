"""Settings of the governance-audit service (``GOVERNANCE_AUDIT_*``; shared settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from llmops_governance_audit.keys.registry import KeyLimits
from llmops_governance_audit.policies.registry import PolicyLimits

__all__ = ["GovernanceAuditSettings"]


class GovernanceAuditSettings(ServiceSettings):
    """What the governance-audit service reads from the environment; every limit has a safe default."""

    model_config = SettingsConfigDict(env_prefix="GOVERNANCE_AUDIT_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8007, ge=0, le=65535)
    source: str = Field(
        default="/services/governance-audit",
        min_length=1,
        max_length=256,
        description="CloudEvents `source` of every event",
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body accepted (a policy of 1,000 terms fits)"
    )
    publish_timeout_s: float = Field(default=10.0, gt=0, description="How long a request waits for Kafka's acks")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503 when Kafka is unavailable")
    max_keys_per_tenant: int = Field(default=1_000, ge=1, description="Keys one tenant may have, revoked ones too")
    key_default_ttl_s: int = Field(default=90 * 86_400, ge=60, description="Lifetime of a key created without one")
    key_max_ttl_s: int = Field(default=400 * 86_400, ge=60, description="Longest lifetime a key may be given")
    rotation_grace_s: int = Field(default=86_400, ge=0, description="How long a rotated key stays valid by default")
    rotation_max_grace_s: int = Field(default=7 * 86_400, ge=0, description="Longest grace period a rotation may ask")
    max_policies_per_tenant: int = Field(default=200, ge=1, description="Policies one tenant may have")

    def policy_limits(self) -> PolicyLimits:
        """The policies API's bounds."""
        return PolicyLimits(self.max_policies_per_tenant, self.publish_timeout_s, self.retry_after_s)

    def key_limits(self) -> KeyLimits:
        """The keys API's bounds."""
        return KeyLimits(
            max_keys_per_tenant=self.max_keys_per_tenant,
            default_ttl_s=self.key_default_ttl_s,
            max_ttl_s=self.key_max_ttl_s,
            default_grace_s=self.rotation_grace_s,
            max_grace_s=self.rotation_max_grace_s,
            publish_timeout_s=self.publish_timeout_s,
            retry_after_s=self.retry_after_s,
        )
