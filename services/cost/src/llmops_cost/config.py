"""Settings of the cost service (``COST_*``; shared settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

__all__ = ["CostSettings"]


class CostSettings(ServiceSettings):
    """What the cost service reads from the environment; every limit has a safe default."""

    model_config = SettingsConfigDict(env_prefix="COST_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8008, ge=0, le=65535)
    source: str = Field(
        default="/services/cost", min_length=1, max_length=256, description="CloudEvents `source` of every event"
    )
    consumer_group: str = Field(default="cost", min_length=1)
    thresholds_group: str = Field(
        default="cost-thresholds",
        min_length=1,
        description="Consumer group whose members split llmops.budgets.events: each tenant's threshold events are "
        "decided by the one replica owning its partition",
    )
    batch_size: int = Field(default=1000, ge=1, le=10_000, description="Most calls priced in one batch")
    batch_wait_ms: int = Field(default=100, ge=1, le=10_000, description="Longest wait to fill a batch")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body accepted")
    report_max_rows: int = Field(
        default=200_000, ge=1, le=5_000_000, description="Cost records one report may read (413 above)"
    )
    publish_timeout_s: float = Field(default=10.0, gt=0, description="How long a price change waits for Kafka")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503")
    budget_seed_max_events: int = Field(
        default=100_000, ge=1, description="Most older cost events one budget seed reads from the warehouse"
    )
    budget_seed_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest a budget seed from the warehouse may run"
    )
    anomaly_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the last hour's spend is checked for spikes (needs the warehouse)"
    )
