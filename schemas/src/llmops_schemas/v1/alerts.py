"""``llmops.alert.state_changed.v1``: an alert rule started or stopped firing."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Identifier, Labels, MediumText, Name, Score, ShortText

__all__ = ["AlertStateChanged"]


class AlertStateChanged(EventPayload):
    """An alert going to ``firing`` or back to ``resolved``.

    ``alert_id`` is a fingerprint of the rule and its labels, the same for the firing and the resolving
    event, so a notifier can thread them; ``ends_at`` is set exactly when the alert is resolved.
    """

    event_type: ClassVar[str] = "llmops.alert.state_changed.v1"
    topic: ClassVar[str] = "llmops.alerts"

    alert_id: Identifier = Field(description="Fingerprint of rule and labels")
    rule: Name = Field(description="The rule that fired, e.g. 'budget-exceeded' or 'drift-detected'")
    severity: Literal["info", "warning", "critical"]
    status: Literal["firing", "resolved"]
    summary: ShortText = Field(min_length=1)
    description: MediumText | None = None
    value: Score | None = Field(default=None, description="The observed value that triggered the rule")
    labels: Labels = Field(default_factory=dict, description="Scope of the alert, e.g. app, model, budget_id")
    source_event_id: Identifier | None = Field(default=None, description="The event that triggered the change")
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ends_when_resolved(self) -> AlertStateChanged:
        if self.status == "resolved":
            if self.ends_at is None:
                raise ValueError("a resolved alert needs ends_at")
            if self.ends_at < self.starts_at:
                raise ValueError("ends_at must not be before starts_at")
        elif self.ends_at is not None:
            raise ValueError("a firing alert has no ends_at")
        return self
