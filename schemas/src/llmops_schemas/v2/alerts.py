"""``llmops.alert.state_changed.v2``: an alert fired, was acknowledged, or resolved.

v2 adds the ``acknowledged`` state (who and when), the rule's id and the group an alert belongs to; a v1
event is a v2 event without them (:meth:`AlertStateChanged.from_v1`, registered in
:mod:`llmops_schemas.upcasters`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import alerts as v1
from llmops_schemas.v1.common import CompactedPayload, Identifier, Labels, MediumText, Name, Score, ShortText

__all__ = ["AlertStateChanged", "AlertStatus", "NotificationQueued"]

AlertStatus = Literal["firing", "acknowledged", "resolved"]


class AlertStateChanged(EventPayload):
    """One state change of one alert: ``firing``, ``acknowledged`` (someone is on it), ``resolved``.

    ``alert_id`` is a fingerprint of the rule and its labels, the same for every change of one alert, so a
    notifier threads them (PagerDuty's ``dedup_key``); ``group_key`` names the group of alerts notified
    together (the rule's ``group_by`` labels). ``ends_at`` is set exactly when the alert is resolved and
    ``acknowledged_at`` once it was acknowledged (kept when it later resolves).
    """

    event_type: ClassVar[str] = "llmops.alert.state_changed.v2"
    topic: ClassVar[str] = "llmops.alerts"

    alert_id: Identifier = Field(description="Fingerprint of rule and labels")
    rule: Name = Field(description="The rule that fired, e.g. 'budget-exceeded' or 'drift-detected'")
    rule_id: Identifier | None = Field(default=None, description="The configured rule (None: a v1 event)")
    severity: Literal["info", "warning", "critical"]
    status: AlertStatus
    summary: ShortText = Field(min_length=1)
    description: MediumText | None = None
    value: Score | None = Field(default=None, description="The observed value that triggered the rule")
    labels: Labels = Field(default_factory=dict, description="Scope of the alert, e.g. app, model, budget_id")
    group_key: ShortText | None = Field(default=None, description="The rule's group_by labels, joined")
    source_event_id: Identifier | None = Field(default=None, description="The event that triggered the change")
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    acknowledged_by: Identifier | None = Field(default=None, description="The key id that acknowledged it")
    acknowledged_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent_times(self) -> AlertStateChanged:
        if self.status == "resolved":
            if self.ends_at is None:
                raise ValueError("a resolved alert needs ends_at")
            if self.ends_at < self.starts_at:
                raise ValueError("ends_at must not be before starts_at")
        elif self.ends_at is not None:
            raise ValueError("only a resolved alert has ends_at")
        if self.status == "acknowledged" and (self.acknowledged_by is None or self.acknowledged_at is None):
            raise ValueError("an acknowledged alert needs acknowledged_by and acknowledged_at")
        if (self.acknowledged_by is None) != (self.acknowledged_at is None):
            raise ValueError("acknowledged_by and acknowledged_at go together")
        return self

    @classmethod
    def from_v1(cls, old: v1.AlertStateChanged) -> AlertStateChanged:
        """The same change as v2 (v2 only adds a state and optional fields)."""
        return cls.model_validate(old.model_dump(exclude_unset=True))


class NotificationQueued(CompactedPayload):
    """One alert change to deliver to one notifier: the alerting service's outbox (``llmops.alerting.outbox``).

    Compacted, keyed ``<tenant>:<notifier_id>:<notification_id>``: the record is written before any call, and a
    tombstone under the same key once the notifier accepted it, so what is still in the topic is what is still
    owed, across restarts.
    """

    event_type: ClassVar[str] = "llmops.alerting.notification_queued.v1"
    topic: ClassVar[str] = "llmops.alerting.outbox"

    notification_id: Identifier = Field(description="The alert event's id: one notification per change")
    notifier_id: Identifier
    alert: AlertStateChanged
    queued_at: AwareDatetime

    def entity_key(self) -> str:
        return f"{self.notifier_id}:{self.notification_id}"
