"""Settings of the inference gateway (``INFERENCE_*``; shared infrastructure settings keep their plain names)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from llmops_kit.feedback_tokens import FeedbackTokenSettings
from llmops_kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from llmops_inference.prompts.resolve import MAX_CHAIN_STEPS

__all__ = ["InferenceSettings"]


class InferenceSettings(ServiceSettings):
    """What the gateway reads from the environment; every limit has a safe default.

    Upstreams and per-model routes live in the routes file (``INFERENCE_ROUTES_FILE``), never in a request.
    """

    model_config = SettingsConfigDict(env_prefix="INFERENCE_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8003, ge=0, le=65535)
    source: str = Field(default="/services/inference", min_length=1, max_length=256, description="CloudEvents source")
    environment: str = Field(default="production", min_length=1, max_length=256, description="Recorded environment")
    default_app: str = Field(
        default="default", min_length=1, max_length=256, description="App recorded when no X-LLMOps-App header is sent"
    )
    routes_file: Path | None = Field(default=None, description="YAML file of upstreams and per-model routes")

    # Limits (per API key).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="Largest request body (413 above)")
    max_prompt_chars: int = Field(default=200_000, ge=1, description="Longest prompt, all messages together (413)")
    max_tokens_limit: int = Field(default=4096, ge=1, le=1_000_000, description="Largest max_tokens accepted (400)")
    default_max_tokens: int = Field(default=512, ge=1, description="max_tokens when a request names none")
    requests_per_minute: int = Field(default=600, ge=0, description="Per key; 0 disables the limit")
    tokens_per_minute: int = Field(default=200_000, ge=0, description="Per key, prompt + completion; 0 disables")
    budget_default_estimate_usd: Decimal = Field(
        default=Decimal("0.01"), ge=0, description="Reserved for a call of a model whose cost was never seen yet"
    )
    budget_hold_s: float = Field(default=120.0, gt=0, description="Longest a reservation waits for its cost event")
    budget_seed_max_events: int = Field(
        default=100_000, ge=1, description="Most older cost events one budget seed reads from the warehouse"
    )
    budget_seed_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest a budget seed from the warehouse may run"
    )
    max_embedding_inputs: int = Field(
        default=256, ge=1, le=2048, description="Most texts per embeddings request (413 above)"
    )
    max_n: int = Field(default=8, ge=1, le=128, description="Most choices (`n`) one request may ask for (400 above)")
    max_image_bytes: int = Field(
        default=3 * 1024 * 1024, ge=1024, description="Largest base64 image content part, decoded (413 above)"
    )
    max_schema_bytes: int = Field(
        default=64 * 1024, ge=256, description="Largest tool or response_format JSON Schema, as JSON (413 above)"
    )
    render_workers: int = Field(default=4, ge=1, le=64, description="Threads that render prompt templates")
    max_pending_renders: int = Field(
        default=64, ge=1, description="Prompt renders in progress or waiting at once (503 above)"
    )
    max_chain_steps: int = Field(
        default=8, ge=1, le=MAX_CHAIN_STEPS, description="Most steps of a prompt chain (422 above); each is a call"
    )

    # Resilience.
    retries: int = Field(default=2, ge=0, le=10, description="Retries per target of idempotent failures")
    retry_backoff_s: float = Field(default=0.2, ge=0, description="First retry delay; doubles, with jitter")
    breaker_failures: int = Field(default=5, ge=1, description="Consecutive failures that open an upstream's circuit")
    breaker_cooldown_s: float = Field(default=30.0, gt=0, description="How long a circuit stays open before a trial")
    health_interval_s: float = Field(default=10.0, gt=0, description="How often upstreams are probed")

    # Recording.
    spool_dir: Path = Field(default=Path(".data/inference/spool"), description="Where unpublished events wait")
    record_buffer: int = Field(default=10_000, ge=1, description="Events held in memory before spilling to disk")
    record_overflow_events: int = Field(
        default=10_000,
        ge=1,
        description="Events waiting in memory to be spilled when the buffer is full (refused above)",
    )
    record_overflow_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Bytes of those events (refused above)"
    )
    spool_max_events: int = Field(default=1_000_000, ge=1, description="Events the spool holds at most (refused above)")
    spool_max_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1024 * 1024, description="Bytes the spool holds at most (refused above)"
    )
    record_batch: int = Field(default=200, ge=1, le=10_000, description="Most events per publish")
    record_linger_ms: int = Field(
        default=250,
        ge=0,
        le=1_000,
        description=(
            "How long recording waits after a call for more before it redacts and publishes them together (never on "
            "the request path): one redaction hand-off and one publish per batch instead of per call (ADR 0070)"
        ),
    )
    redact_in: Literal["process", "thread"] = Field(
        default="process",
        description=(
            "Where recorded calls are redacted (LLMOPS_PII_ENABLED): a helper process of the gateway's own, off the "
            "interpreter lock that serves requests, or a worker thread of the gateway's process (no helper)"
        ),
    )
    publish_timeout_s: float = Field(default=10.0, gt=0, description="How long one publish may wait for acks")
    replay_interval_s: float = Field(default=5.0, gt=0, description="How often the spool is retried")

    # Feedback: a signed token per chat/completions answer (X-LLMOps-Feedback-Token) lets its end user rate it.
    feedback_tokens: FeedbackTokenSettings = Field(default_factory=FeedbackTokenSettings)
    """Read from the unprefixed ``LLMOPS_FEEDBACK_TOKEN_*`` shared with the feedback service; no secret: no token."""
