"""Settings shared by every service.

Shared infrastructure settings keep their well-known unprefixed names (``KAFKA_BOOTSTRAP_SERVERS``,
``CLICKHOUSE_URL``, ``LLMOPS_API_KEYS_FILE``, ``LOG_LEVEL``) so one environment points every service at the
same cluster; a service's own settings carry its prefix (``INGEST_PORT``, ``WAREHOUSE_BATCH_SIZE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KafkaSecurity", "ServiceSettings", "fetch_partition_bytes_field"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def fetch_partition_bytes_field(why: str) -> Any:
    """A consumer's ``fetch_partition_bytes`` setting: 8 MiB by default, within 64 KiB-64 MiB. The Kafka clients'
    1 MiB per partition holds under one batch of calls, so a consumer behind waited for a fetch between batches
    (docs/adr/0022, 0057, 0059); ``why`` says what it means for the service."""
    return Field(
        default=8 << 20,
        ge=64 << 10,
        le=64 << 20,
        description=f"Most bytes one Kafka fetch brings per partition: {why}",
    )


class KafkaSecurity(BaseSettings):
    """How every Kafka client of a process authenticates (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``,
    ``KAFKA_SSL_*``); :func:`llmops_kit.kafka.security.client_kwargs` turns it into aiokafka arguments.

    The default is PLAINTEXT, for a broker on loopback (``make run``). A deployment gives each service its
    own SCRAM principal, named after the service, so the broker's ACLs decide what it may read and write.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    """Never logged: ``SecretStr`` prints as ``**********``; only the ssl/sasl kwargs builder reveals it."""
    ssl_cafile: Path | None = None
    """CA bundle to verify the brokers with; the system's trust store when unset."""
    ssl_certfile: Path | None = None
    """Client certificate (mutual TLS), with ``ssl_keyfile``."""
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.uses_sasl and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(f"{self.security_protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if self.security_protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
            raise ValueError("SASL PLAIN sends the password in clear text: use SASL_SSL or a SCRAM mechanism")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together (mutual TLS)")
        return self


class ServiceSettings(BaseSettings):
    """Base settings of a platform service; subclass with ``env_prefix`` for the service's own fields."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"))
    api_keys_file: Path | None = Field(default=None, validation_alias=_env("LLMOPS_API_KEYS_FILE"))
    log_level: str = Field(default="INFO", validation_alias=_env("LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    ensure_topics: bool = Field(default=True, description="Create missing catalog topics at start (idempotent).")
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    """Read from the unprefixed ``KAFKA_SECURITY_PROTOCOL``/``KAFKA_SASL_*``/``KAFKA_SSL_*`` variables."""
    warehouse_url: str | None = Field(
        default=None,
        validation_alias=_env("LLMOPS_WAREHOUSE_URL"),
        description="The warehouse's query API, for services that read history (with the service key)",
    )
    gateway_url: str | None = Field(
        default=None,
        validation_alias=_env("LLMOPS_GATEWAY_URL"),
        description="The inference gateway, for services that send platform traffic (with the service key)",
    )
    evaluation_url: str | None = Field(
        default=None,
        validation_alias=_env("LLMOPS_EVALUATION_URL"),
        description="The evaluation service, for services that start offline runs (with the service key)",
    )
    service_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("LLMOPS_SERVICE_KEY"),
        description="This service's own API key (role 'service') for the warehouse and the gateway",
    )
