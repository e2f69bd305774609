"""Settings of the judge-drift monitors (``DRIFT_DETECTION_JUDGE_*``); every bound has a safe default."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["JudgeSettings"]


class JudgeSettings(BaseSettings):
    """How often monitors are looked at, how long a run is waited for, and how many a tenant may have."""

    model_config = SettingsConfigDict(env_prefix="DRIFT_DETECTION_JUDGE_", extra="ignore")

    enabled: bool = Field(default=True, description="Run the monitors' checks in this replica")
    group: str = Field(
        default="drift-detection-judges",
        pattern=r"^drift-detection(-[a-z0-9-]+)?$",
        description="The consumer group of the replicas that check monitors: each monitor's partition of "
        "llmops.drift.judges has one owner, which alone checks it (named after the service, as the ACLs grant it)",
    )
    tick_s: float = Field(default=30.0, gt=0, le=3600, description="How often due monitors are looked for")
    run_timeout_s: float = Field(
        default=900.0, gt=0, le=86_400, description="Longest wait for a run (and its stored scores) per check"
    )
    poll_s: float = Field(default=5.0, gt=0, le=600, description="How often a run under way is read")
    max_monitors_per_tenant: int = Field(default=20, ge=1, le=1000, description="Monitors a tenant may have")
    max_concurrent_checks: int = Field(default=4, ge=1, le=64, description="Checks under way at once (all tenants)")
    max_rows: int = Field(default=10_000, ge=10, le=10_000, description="Per-example rows read per comparison")
