"""Settings of the drift-detection service (``DRIFT_DETECTION_*``; shared settings keep their plain names)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal, Self

from llmops_kit.settings import ServiceSettings, fetch_partition_bytes_field
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from llmops_drift_detection.judges.settings import JudgeSettings

__all__ = ["DriftDetectionSettings"]


class DriftDetectionSettings(ServiceSettings):
    """What the drift-detection service reads from the environment; every bound has a safe default."""

    model_config = SettingsConfigDict(env_prefix="DRIFT_DETECTION_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8009, ge=0, le=65535)
    source: str = Field(default="/services/drift-detection", min_length=1, max_length=256)
    app_id: str = Field(
        default="drift-detection",
        pattern=r"^drift-detection(-[a-z0-9-]+)?$",
        description="faust's app id, its consumer group: named after the service, as the Kafka ACLs grant it",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "llmops-drift-detection",
        description="faust's data directory (it makes one even with tables in memory); never the working directory",
    )
    window_s: float = Field(default=3600.0, ge=1, le=30 * 86_400, description="Length of a window")
    step_s: float | None = Field(
        default=None, ge=1, description="Sliding (hopping) windows advance by this much; unset: tumbling windows"
    )
    grace_s: float = Field(default=60.0, ge=0, le=86_400, description="How long a window waits for late calls")
    close_interval_s: float = Field(default=5.0, gt=0, le=3600, description="How often closed windows are checked")
    recovery_stall_s: float = Field(
        default=300.0,
        ge=10,
        le=86_400,
        description=(
            "A table recovery that reads none of its remaining changelog records for this long makes /healthz "
            "answer 503, so the worker is restarted (docs/adr/0065)"
        ),
    )
    max_calls_per_window: int = Field(
        default=2000, ge=10, le=100_000, description="Calls kept per window and scope (later ones are counted only)"
    )
    fold_batch_max: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description=(
            "Calls folded per batch (one table entry per scope and window; a batch waits once for its sampled "
            "embeddings, so fewer, fuller batches keep that wait off each call, docs/adr/0057)"
        ),
    )
    fetch_partition_bytes: int = fetch_partition_bytes_field(
        "a chunk of calls comes from one fetch, and the worker no longer waits for a fetch between chunks"
    )
    fold_batch_s: float = Field(
        default=0.2, gt=0, le=10, description="How long a chunk fills from further fetches before it is folded as it is"
    )
    min_samples: int = Field(default=30, ge=2, description="Fewer calls in a window or its reference: no verdict")
    fdr: float = Field(default=0.01, gt=0, lt=1, description="Benjamini-Hochberg's false discovery rate")
    include_platform: bool = Field(default=False, description="Count judges' and offline runs' calls too")
    reference: Literal["previous_window", "pinned_window", "dataset"] = Field(
        default="previous_window",
        description="previous_window: each window against the last closed one; pinned_window: against the first "
        "window with enough calls, kept; dataset: against the calls the warehouse holds in reference_start..end",
    )
    reference_start: str | None = Field(default=None, description="ISO time: start of the pinned dataset")
    reference_end: str | None = Field(default=None, description="ISO time: end of the pinned dataset")
    reference_max_calls: int = Field(default=2000, ge=10, le=100_000, description="Calls read for a dataset reference")
    reference_max_embeddings: int = Field(
        default=250, ge=0, le=1000, description="Embeddings a reference keeps (a dataset's: prompts embedded)"
    )
    topics: int = Field(default=8, ge=0, le=50, description="Topics of the embeddings' topic feature (0: none)")
    outcomes_max_rows: int = Field(
        default=20_000, ge=100, le=200_000, description="Score and feedback events read per closed window and table"
    )
    outcomes_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Bound on a window's score reads")
    embedding_sample_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of calls whose prompt is embedded (by call id; 0: none)"
    )
    embedding_model: str = Field(
        default="local-embedder", min_length=1, max_length=128, description="The gateway's embedding model"
    )
    embedding_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="How long a fold batch waits for its embeddings at most"
    )
    embedding_backoff_s: float = Field(
        default=30.0, ge=0, le=3600, description="Embedding pauses this long after a failed or late answer"
    )
    embedding_reference_timeout_s: float = Field(
        default=60.0, gt=0, le=600, description="How long a dataset reference's embeddings are waited for at most"
    )
    embedding_max_in_flight: int = Field(
        default=16,
        ge=1,
        le=64,
        description=(
            "Embedding requests at once (a batch sends one per tenant: with 4, a dozen tenants waited three rounds "
            "of the gateway's latency per batch, docs/adr/0057)"
        ),
    )
    embedding_max_chars: int = Field(
        default=2000, ge=1, le=100_000, description="A prompt is cut to this many characters before embedding"
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body accepted")
    judges: JudgeSettings = Field(default_factory=JudgeSettings, description="Judge drift (DRIFT_DETECTION_JUDGE_*)")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.step_s is not None and self.step_s > self.window_s:
            raise ValueError("DRIFT_DETECTION_STEP_S must not exceed DRIFT_DETECTION_WINDOW_S")
        if self.reference == "dataset" and not (self.reference_start and self.reference_end):
            raise ValueError("a dataset reference needs DRIFT_DETECTION_REFERENCE_START and _END")
        return self
