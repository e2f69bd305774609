"""Settings shared by every service.

Shared infrastructure settings keep their well-known unprefixed names (``KAFKA_BOOTSTRAP_SERVERS``,
``CLICKHOUSE_URL``, ``LLMOPS_API_KEYS_FILE``, ``LOG_LEVEL``) so one environment points every service at the
same cluster; a service's own settings carry its prefix (``INGEST_PORT``, ``WAREHOUSE_BATCH_SIZE``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class ServiceSettings(BaseSettings):
    """Base settings of a platform service; subclass with ``env_prefix`` for the service's own fields."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"))
    api_keys_file: Path | None = Field(default=None, validation_alias=_env("LLMOPS_API_KEYS_FILE"))
    log_level: str = Field(default="INFO", validation_alias=_env("LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    ensure_topics: bool = Field(default=True, description="Create missing catalog topics at start (idempotent).")
