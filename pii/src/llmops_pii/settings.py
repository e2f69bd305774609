"""The redaction settings every service that records calls reads (ingest, the gateway): ``LLMOPS_PII_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmops_pii.policy import PolicyBook

__all__ = ["PiiSettings"]


class PiiSettings(BaseSettings):
    """Whether calls are redacted, how (the policy), and the key behind hashed values."""

    model_config = SettingsConfigDict(env_prefix="LLMOPS_PII_", extra="ignore")

    enabled: bool = Field(default=True, description="Redact calls before they are published or spooled")
    policy: str | None = Field(
        default=None,
        description='JSON: {"default": {type: action}, "tenants": {tenant: {type: action}}}; unset: redact all',
    )
    hash_key: SecretStr | None = Field(
        default=None, description="Platform key the tenants' hashing secrets derive from (16 bytes at least)"
    )

    def policy_book(self) -> PolicyBook:
        """The configured book; raises ``PolicyError`` for a bad policy (a service refuses to start with one)."""
        key = self.hash_key.get_secret_value().encode() if self.hash_key else b""
        return PolicyBook.from_json(self.policy, hash_key=key)
