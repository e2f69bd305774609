"""Settings of the evaluation service (``EVALUATION_*``; shared infrastructure settings keep their plain names)."""

from __future__ import annotations

from llmops_kit.settings import ServiceSettings, fetch_partition_bytes_field
from pydantic import Field
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
    fetch_partition_bytes: int = fetch_partition_bytes_field(
        "the heuristic pass's batches of up to 1,000 calls come whole from one fetch, not one fetch apart"
    )
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
    platform_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="Longest wait for one answer of the warehouse or the gateway"
    )
    gateway_source: str = Field(
        default="/services/inference", min_length=1, description="CloudEvents source of the calls the gateway records"
    )
    verdict_alpha: float = Field(default=0.05, gt=0, lt=0.5, description="False-positive rate of a verdict")
    verdict_minimum_effect: float = Field(
        default=0.1, gt=0, le=10, description="Smallest difference that matters, in standard deviations"
    )
    verdict_min_samples: int = Field(default=100, ge=2, le=1_000_000, description="Per arm before testing")
    verdict_max_samples: int = Field(
        default=20_000, ge=2, le=10_000_000, description="Per arm: past it without a difference, 'no difference'"
    )
    verdict_max_calls: int = Field(default=50_000, ge=1, le=1_000_000, description="Calls one verdict reads at most")
    verdict_max_events: int = Field(
        default=300_000, ge=1, le=10_000_000, description="Scores, feedback or costs one verdict reads at most, each"
    )
    verdict_concurrency: int = Field(default=2, ge=1, le=64, description="Verdicts computed at once; the next is 429")
    policy_interval_s: float = Field(
        default=60.0, gt=0, le=86_400, description="How often armed verdict policies are looked at"
    )
    # The model stage (judges): its consumer group, batches and bounds (docs/adr/0027).
    model_consumer_group: str = Field(default="evaluation-models", min_length=1)
    model_batch_size: int = Field(default=32, ge=1, le=1000, description="Most calls judged in one batch")
    model_batch_wait_ms: int = Field(default=200, ge=1, le=10_000, description="Longest wait to fill a judge batch")
    judge_max_in_flight: int = Field(default=16, ge=1, le=256, description="Judge runs in flight at once")
    judge_label_ttl_s: float = Field(
        default=10.0, ge=0, le=3600, description="How long a rubric label's version is kept"
    )
    # Datasets and offline runs (docs/evaluation.md#datasets-and-offline-runs)
    max_dataset_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_dataset_examples: int = Field(default=5_000, ge=1, le=100_000, description="Examples per dataset version")
    max_dataset_versions: int = Field(default=100, ge=1, le=10_000, description="Versions per dataset; then 409")
    max_datasets_per_tenant: int = Field(default=200, ge=1, le=10_000, description="Datasets per tenant; then 409")
    run_concurrency: int = Field(default=8, ge=1, le=256, description="Gateway calls in flight per run")
    run_chunk: int = Field(default=32, ge=1, le=1_000, description="Examples between two progress records")
    max_active_runs: int = Field(default=4, ge=1, le=64, description="Runs executing at once; the next is a 429")
    run_worker: bool = Field(default=True, description="Execute runs here and take over those of stopped replicas")
    run_lease_s: float = Field(
        default=120.0, ge=5, le=86_400, description="A running run with no record for this long is taken over"
    )
    replays_enabled: bool = Field(default=True, description="Run and resume replays on this replica")
    replay_max_running: int = Field(default=2, ge=1, le=64, description="Replays run at once by this process")
    replay_max_per_tenant: int = Field(default=4, ge=1, le=1000, description="Running replays per tenant")
    replay_rate_limit_per_s: float = Field(default=2000, gt=0, description="A replay's default calls per second")
    replay_max_rate_limit_per_s: float = Field(default=50_000, gt=0, description="The most a replay may ask for")
    replay_batch_size: int = Field(default=500, ge=1, le=1000, description="Calls judged between two checkpoints")
    erasure_group: str = Field(default="evaluation-erasure", min_length=1, description="Erasure consumer group")
    erasure_max_calls: int = Field(
        default=1_000_000, ge=1, description="Erased calls read per erasure request (a receipt says 'failed' above)"
    )
