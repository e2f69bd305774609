"""Settings of the ingest service (``INGEST_*``; shared infrastructure settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

__all__ = ["IngestSettings"]


class IngestSettings(ServiceSettings):
    """What ingest reads from the environment; every limit has a safe default."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8001, ge=0, le=65535)
    source: str = Field(
        default="/services/ingest", min_length=1, max_length=256, description="CloudEvents `source` of every event"
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Largest request body accepted")
    max_batch_records: int = Field(default=1000, ge=1, le=100_000, description="Most records in one request")
    max_future_skew_s: float = Field(
        default=300.0, ge=0, description="How far `started_at` may lie in the future (client clock skew)"
    )
    retention_days: int = Field(
        default=90, ge=1, description="Oldest `started_at` accepted; matches the warehouse's calls TTL"
    )
    publish_timeout_s: float = Field(
        default=15.0, gt=0, description="How long an HTTP request waits for Kafka acks before answering 503"
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503 when Kafka is unavailable")
    max_in_flight_per_key: int = Field(
        default=16, ge=1, description="Requests one API key may have in flight on POST /v1/calls; the next gets 429"
    )
    consume_raw: bool = Field(default=True, description="Run the llmops.calls.raw consumer in this process")
    raw_topic: str = "llmops.calls.raw"
    raw_group: str = Field(default="ingest-raw", min_length=1)
