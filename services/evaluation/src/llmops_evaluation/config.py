"""Settings of the evaluation service (``EVALUATION_*``; shared infrastructure settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

__all__ = ["EvaluationSettings"]


class EvaluationSettings(ServiceSettings):
    """What the evaluation service reads from the environment; every limit has a safe default."""

    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8005, ge=0, le=65535)
    source: str = Field(default="/services/evaluation", min_length=1, max_length=256)
    consumer_group: str = Field(default="evaluation", min_length=1)
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Most calls scored in one batch")
    batch_wait_ms: int = Field(default=200, ge=1, le=10_000, description="Longest wait to fill a batch")
    max_output_chars: int = Field(
        default=262_144, ge=1024, le=4_194_304, description="Characters of an answer the heuristics read"
    )
    evaluator_budget_s: float = Field(
        default=0.25, gt=0, le=60, description="Time one evaluator may take on one call before its result is dropped"
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest request body accepted")
    max_evaluators_per_tenant: int = Field(
        default=200, ge=1, le=10_000, description="Evaluators one tenant may configure; the next is a 409"
    )
    publish_timeout_s: float = Field(default=15.0, gt=0, description="How long a write waits for Kafka before 503")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503")
    # The model stage (judges): its consumer group, batches and bounds (docs/adr/0027).
    model_consumer_group: str = Field(default="evaluation-models", min_length=1)
    model_batch_size: int = Field(default=32, ge=1, le=1000, description="Most calls judged in one batch")
    model_batch_wait_ms: int = Field(default=200, ge=1, le=10_000, description="Longest wait to fill a judge batch")
    judge_max_in_flight: int = Field(default=16, ge=1, le=256, description="Judge runs in flight at once")
    judge_label_ttl_s: float = Field(
        default=10.0, ge=0, le=3600, description="How long a rubric label's version is kept"
    )
    # The same three fields as the kit's ServiceSettings on main (commit 2a5d149: LLMOPS_WAREHOUSE_URL,
    # LLMOPS_GATEWAY_URL, LLMOPS_SERVICE_KEY), identical so that they may stay or go when the branches meet.
    warehouse_url: str | None = Field(
        default=None, validation_alias=AliasChoices("LLMOPS_WAREHOUSE_URL", "llmops_warehouse_url")
    )
    gateway_url: str | None = Field(
        default=None, validation_alias=AliasChoices("LLMOPS_GATEWAY_URL", "llmops_gateway_url")
    )
    service_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LLMOPS_SERVICE_KEY", "llmops_service_key")
    )
