"""Settings of the alerting service (``ALERTING_*``; shared settings keep their plain names)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from llmops_kit.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

__all__ = ["AlertingSettings"]


class AlertingSettings(ServiceSettings):
    """What the alerting service reads from the environment; every limit has a safe default."""

    model_config = SettingsConfigDict(env_prefix="ALERTING_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8010, ge=0, le=65535)
    source: str = Field(default="/services/alerting", min_length=1, max_length=256)
    consumer_group: str = Field(default="alerting", min_length=1, max_length=256)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest request body accepted")
    max_rules_per_tenant: int = Field(default=500, ge=1, description="Rules one tenant may have (409 above)")
    max_objectives_per_tenant: int = Field(default=200, ge=1)
    max_silences_per_tenant: int = Field(default=200, ge=1)
    max_notifiers_per_tenant: int = Field(default=50, ge=1)
    max_open_alerts: int = Field(default=100_000, ge=1, description="Alerts held open at once (new ones dropped)")
    evaluate_interval_s: float = Field(default=30.0, gt=0, description="How often metric rules and objectives run")
    min_samples: int = Field(default=20, ge=1, description="Scores an evaluation_score rule needs in its window")
    max_window_samples: int = Field(default=10_000, ge=1, description="Scores kept per evaluation_score window")
    sli_max_events: int = Field(
        default=50_000, ge=1, description="Stored events one objective's read takes (scores, feedback, costs)"
    )
    feedback_lookback_s: int = Field(
        default=86_400, ge=0, description="How long before a thumbs_up_rate window its feedback's calls are looked for"
    )
    publish_timeout_s: float = Field(default=10.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    batch_size: int = Field(default=500, ge=1)
    batch_wait_ms: int = Field(default=50, ge=0)
    secrets_file: Path | None = Field(
        default=None, description="JSON object of notifier secrets by name (routing keys, HMAC keys)"
    )
    secrets_json: SecretStr | None = Field(
        default=None, description="The same JSON object in a variable (Helm: secretEnv from a Secret)"
    )
    notifier_timeout_s: float = Field(default=5.0, gt=0, description="One notifier call, connect to answer")
    notifier_max_backoff_s: float = Field(default=60.0, gt=0, description="Longest pause between two attempts")
    group_wait_s: float = Field(
        default=0.0, ge=0, le=3600, description="A new group's first notification waits this long (notifier default)"
    )
    group_interval_s: float = Field(
        default=0.0, ge=0, le=86_400, description="Between two notifications of a group (notifier default)"
    )
    group_max_alerts: int = Field(
        default=20, ge=1, le=49, description="Changes in one grouped notification (a Slack message's blocks)"
    )
    notifier_queue_limit: int = Field(default=10_000, ge=1, description="Notifications owed to one notifier")
    allowed_networks: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description='Private/loopback networks notifiers may reach (JSON list, e.g. ["127.0.0.0/8"]); '
        "everything else non-public is refused on the address connected to",
    )
