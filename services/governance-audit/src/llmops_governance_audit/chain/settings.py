"""Settings of the audit chain's writer (``GOVERNANCE_AUDIT_*``, next to the service's own settings)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ChainSettings"]


class ChainSettings(BaseSettings):
    """The digest signing key and cadence, and the writer's consumer group and batch bound."""

    model_config = SettingsConfigDict(env_prefix="GOVERNANCE_AUDIT_", extra="ignore")

    signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key of the digests: base64 of its 32 bytes, or PKCS#8 PEM. Without it the "
        "chain is written but not signed (a rewrite of the whole tail is then undetectable): set it in production",
    )
    digest_interval_s: float = Field(default=60.0, gt=0, le=86_400, description="How often digests are signed")
    chain_group: str = Field(default="governance-audit-chain", min_length=1, description="Consumer group")
    heads_sync_s: float = Field(
        default=5.0, gt=0, le=60, description="How long a batch waits for the heads to catch up with their topic"
    )
    chain_batch: int = Field(default=500, ge=1, le=10_000, description="Most audit entries chained per batch")
