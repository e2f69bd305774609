"""The alerting service's configuration: rules, objectives, silences and notifiers (``llmops.alerting.config``).

One compacted topic holds the four kinds, keyed ``<tenant>:<kind>:<id>``; the latest record per key is the
entity, and ``deleted`` removes it (kept as a record, not a tombstone, so the history says when).
Metric names and rule kinds are checked by the service against its catalog when a rule is created, not by
the contract, so a new metric needs no new event version.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from llmops_schemas.v1.common import CompactedPayload, Fraction, Identifier, Labels, Name, Score, ShortText

__all__ = ["AlertRuleConfigured", "NotifierConfigured", "ObjectiveConfigured", "SilenceSet"]

Severity = Literal["info", "warning", "critical"]
RuleKind = Literal["metric", "drift", "evaluation_score", "budget"]
"""``metric``: a stored metric over a window; the others: the events of drift, evaluation and budget topics."""
Sli = Literal["latency", "error_rate", "evaluation_score", "thumbs_up_rate", "cost_per_call", "cost_per_day"]
NotifierKind = Literal["pagerduty", "slack", "webhook"]
NotifierIds = Annotated[list[Identifier], Field(max_length=16)]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2048, pattern=r"^https?://")]


class AlertRuleConfigured(CompactedPayload):
    """When an alert fires: a metric or an event stream compared with a threshold, scoped to an app or model.

    ``group_by`` names the labels whose values split the rule into alerts (``app``, ``model``...); alerts of
    one group are notified together. ``notifiers`` are the ids of :class:`NotifierConfigured` to call.
    """

    event_type: ClassVar[str] = "llmops.alerting.rule_configured.v1"
    topic: ClassVar[str] = "llmops.alerting.config"

    rule_id: Identifier
    name: Name
    kind: RuleKind
    metric: Name | None = Field(default=None, description="Metric (kind metric) or score metric (evaluation_score)")
    app: Name | None = None
    model: Name | None = None
    comparison: Literal["above", "below"] = "above"
    threshold: Score | None = Field(default=None, description="Fires past it (metric and evaluation_score kinds)")
    window_s: int = Field(default=300, ge=60, le=7 * 86_400, description="The window the metric is read over")
    severity: Severity = "warning"
    group_by: Annotated[list[Name], Field(max_length=8)] = Field(default_factory=list)
    notifiers: NotifierIds = Field(default_factory=list)
    description: ShortText | None = None
    enabled: bool = True
    deleted: bool = False
    updated_by: Identifier
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _threshold_where_compared(self) -> AlertRuleConfigured:
        if self.kind in ("metric", "evaluation_score") and (self.metric is None or self.threshold is None):
            raise ValueError(f"a {self.kind} rule needs metric and threshold")
        return self

    def entity_key(self) -> str:
        return f"rule:{self.rule_id}"


class ObjectiveConfigured(CompactedPayload):
    """What "good" means for an app: an SLI, the threshold a good event meets and the target share over a window.

    ``latency``: a call is good when its latency is at most ``threshold`` ms (``percentile`` reads the
    warehouse's quantile); ``error_rate``: a call is good when it did not fail; ``evaluation_score``: a
    score is good when at least ``threshold``; ``thumbs_up_rate``: a thumb is good when up; ``cost_per_call``
    and ``cost_per_day``: good when at most ``threshold`` USD. ``target`` is the good share (0.99).
    """

    event_type: ClassVar[str] = "llmops.alerting.objective_configured.v1"
    topic: ClassVar[str] = "llmops.alerting.config"

    objective_id: Identifier
    app: Name
    prompt_name: Name | None = None
    model: Name | None = None
    sli: Sli
    threshold: Score | None = Field(default=None, description="What a good event meets (not for error_rate)")
    metric: Name | None = Field(default=None, description="The score metric of an evaluation_score objective")
    target: Fraction = Field(description="The share of good events, e.g. 0.99")
    window_days: int = Field(default=28, ge=1, le=90)
    severity: Severity = "critical"
    notifiers: NotifierIds = Field(default_factory=list)
    deleted: bool = False
    updated_by: Identifier
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> ObjectiveConfigured:
        if not 0 < self.target < 1:
            raise ValueError("target must be strictly between 0 and 1 (1 leaves no error budget)")
        if (self.sli != "error_rate") != (self.threshold is not None):
            raise ValueError("threshold is set for every sli but error_rate")
        if (self.sli == "evaluation_score") != (self.metric is not None):
            raise ValueError("metric is set exactly for an evaluation_score objective")
        return self

    def entity_key(self) -> str:
        return f"objective:{self.objective_id}"


class SilenceSet(CompactedPayload):
    """Mutes notifications of alerts whose labels match every matcher between ``starts_at`` and ``ends_at``.

    The alerts still change state and are stored; only the notifiers are not called. The label ``rule``
    matches the rule's id.
    """

    event_type: ClassVar[str] = "llmops.alerting.silence_set.v1"
    topic: ClassVar[str] = "llmops.alerting.config"

    silence_id: Identifier
    matchers: Labels = Field(description="label -> value; every one must match")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    comment: ShortText = ""
    deleted: bool = False
    updated_by: Identifier
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _bounded(self) -> SilenceSet:
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher (it would mute everything)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def entity_key(self) -> str:
        return f"silence:{self.silence_id}"


class NotifierConfigured(CompactedPayload):
    """Where alerts go: PagerDuty Events API v2, a Slack-compatible incoming webhook, or a signed webhook.

    ``secret_ref`` names an entry of the service's secrets file (the PagerDuty routing key, the Slack
    webhook path or the webhook's HMAC key): secrets never travel in events. Only an admin sets a URL.
    ``group_wait_s`` and ``group_interval_s`` batch a rule's changes per group as Alertmanager does.
    """

    event_type: ClassVar[str] = "llmops.alerting.notifier_configured.v1"
    topic: ClassVar[str] = "llmops.alerting.config"

    notifier_id: Identifier
    kind: NotifierKind
    url: Url
    secret_ref: Identifier | None = None
    min_severity: Severity = "info"
    group_wait_s: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="A new group's first notification waits this long (None: the service's)",
    )
    group_interval_s: int | None = Field(
        default=None, ge=0, le=86_400, description="Between two notifications of a group (None: the service's)"
    )
    deleted: bool = False
    updated_by: Identifier
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return f"notifier:{self.notifier_id}"
