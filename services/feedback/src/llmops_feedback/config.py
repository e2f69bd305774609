"""Settings of the feedback service (``FEEDBACK_*``; shared settings keep their plain names).

The feedback-token secret is shared with the gateway and read from ``LLMOPS_FEEDBACK_TOKEN_*``
(:class:`~llmops_kit.feedback_tokens.FeedbackTokenSettings`).
"""

from __future__ import annotations

from llmops_kit.feedback_tokens import FeedbackTokenSettings
from llmops_kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

__all__ = ["FeedbackSettings"]


class FeedbackSettings(ServiceSettings):
    """What the feedback service reads from the environment; every limit has a safe default."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8006, ge=0, le=65535)
    source: str = Field(
        default="/services/feedback", min_length=1, max_length=256, description="CloudEvents `source` of every event"
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="Largest request body accepted")
    max_batch_items: int = Field(default=500, ge=1, le=10_000, description="Most feedback items in one batch")
    max_future_skew_s: float = Field(default=300.0, ge=0, description="How far `given_at` may lie in the future")
    max_age_days: int = Field(
        default=365, ge=1, le=399, description="Oldest `given_at` accepted (the warehouse keeps feedback 400 days)"
    )
    publish_timeout_s: float = Field(default=10.0, gt=0, description="How long a request waits for Kafka's acks")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with a 503 when Kafka is unavailable")
    max_in_flight_per_key: int = Field(default=16, ge=1, description="Requests one API key may have in flight (429)")
    token_submissions_per_call: int = Field(
        default=20, ge=1, description="Feedback one call may receive with its token per window (429 above)"
    )
    token_window_s: float = Field(default=3600.0, gt=0, description="The window of `token_submissions_per_call`")
    token_max_tracked_calls: int = Field(
        default=100_000, ge=1, description="Calls whose token submissions are counted at once (429 above)"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Browser origins allowed to post feedback (JSON list, e.g. ["https://app.example"]); '
        "empty: no CORS headers",
    )
    review_max_queues_per_tenant: int = Field(default=100, ge=1, description="Review queues one tenant may have")
    review_max_items_per_queue: int = Field(default=5_000, ge=1, le=100_000, description="Items of one queue (413)")
    history_max_rows: int = Field(
        default=20_000, ge=1, le=1_000_000, description="Rows one history read may scan (queue sources, exports)"
    )
    max_running_exports: int = Field(default=2, ge=1, description="Exports one process runs at once (429 above)")
    erasure_group: str = Field(default="feedback-erasure", min_length=1, description="Erasure consumer group")
    erasure_max_calls: int = Field(
        default=1_000_000, ge=1, description="Erased calls read per erasure request (a receipt says 'failed' above)"
    )
    feedback_tokens: FeedbackTokenSettings = Field(default_factory=FeedbackTokenSettings)
    """Read from the unprefixed ``LLMOPS_FEEDBACK_TOKEN_SECRET`` / ``_PREVIOUS_SECRET`` / ``_TTL_S``."""
