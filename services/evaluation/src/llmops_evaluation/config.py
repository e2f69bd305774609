"""Settings of the evaluation service (``EVALUATION_*``; shared infrastructure settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings
from pydantic import Field, SecretStr
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
    warehouse_url: str | None = Field(
        default=None, description="The warehouse's query API, read by replays (none: warehouse replays answer 503)"
    )
    service_key: SecretStr | None = Field(default=None, description="The platform service key replays read with")
    replays_enabled: bool = Field(default=True, description="Run and resume replays on this replica")
    replay_max_running: int = Field(default=2, ge=1, le=64, description="Replays run at once by this process")
    replay_max_per_tenant: int = Field(default=4, ge=1, le=1000, description="Running replays per tenant")
    replay_rate_limit_per_s: float = Field(default=2000, gt=0, description="A replay's default calls per second")
    replay_max_rate_limit_per_s: float = Field(default=50_000, gt=0, description="The most a replay may ask for")
    replay_batch_size: int = Field(default=500, ge=1, le=1000, description="Calls judged between two checkpoints")
