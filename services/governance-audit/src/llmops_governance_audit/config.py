"""Settings of the governance-audit service (``GOVERNANCE_AUDIT_*``; shared settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

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
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body accepted")
    publish_timeout_s: float = Field(default=10.0, gt=0, description="How long a request waits for Kafka's acks")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503 when Kafka is unavailable")
