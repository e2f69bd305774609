"""``llmops.alerting.rule_configured.v2``: an alert rule, with the kinds ``evaluation_score_drop`` and
``cost_anomaly``.

v1's ``kind`` is a closed set, so new kinds are a new version (``compat`` refuses a widened enum: a v1 reader
would refuse the record). A v1 rule is a v2 rule as it is (:meth:`AlertRuleConfigured.from_v1`, registered in
:mod:`llmops_schemas.upcasters`); both versions share the compacted key ``<tenant>:rule:<rule_id>``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.v1 import alerting as v1
from llmops_schemas.v1.alerting import NotifierIds, Severity
from llmops_schemas.v1.common import CompactedPayload, Identifier, Name, Score, ShortText

__all__ = ["AlertRuleConfigured", "RuleKind"]

RuleKind = Literal["metric", "drift", "evaluation_score", "evaluation_score_drop", "budget", "cost_anomaly"]
"""``metric``: a stored metric over a window; ``drift``, ``evaluation_score``, ``budget``: the events of the drift,
evaluation and budget topics; ``evaluation_score_drop``: a score's mean over the window against the window
before it; ``cost_anomaly``: the cost service's spend spikes."""
COMPARED = ("metric", "evaluation_score", "evaluation_score_drop")


class AlertRuleConfigured(CompactedPayload):
    """When an alert fires: a metric or an event stream compared with a threshold, scoped to an app or model.

    ``group_by`` names the labels whose values split the rule into alerts (``app``, ``model``...); alerts of
    one group are notified together. ``notifiers`` are the ids of notifiers to call. An
    ``evaluation_score_drop`` rule fires when the mean score of ``metric`` over ``window_s`` is lower than its
    mean over the ``baseline_s`` before that window by more than ``threshold``; a ``cost_anomaly`` rule
    resolves ``window_s`` after the last spike it saw.
    """

    event_type: ClassVar[str] = "llmops.alerting.rule_configured.v2"
    topic: ClassVar[str] = "llmops.alerting.config"

    rule_id: Identifier
    name: Name
    kind: RuleKind
    metric: Name | None = Field(default=None, description="Metric (kind metric) or score metric (evaluation kinds)")
    app: Name | None = None
    model: Name | None = None
    comparison: Literal["above", "below"] = "above"
    threshold: Score | None = Field(default=None, description="Fires past it (metric and evaluation kinds)")
    window_s: int = Field(default=300, ge=60, le=7 * 86_400, description="The window the metric is read over")
    baseline_s: int | None = Field(
        default=None, ge=60, le=30 * 86_400, description="evaluation_score_drop: the window before it compared with"
    )
    severity: Severity = "warning"
    group_by: Annotated[list[Name], Field(max_length=8)] = Field(default_factory=list)
    notifiers: NotifierIds = Field(default_factory=list)
    description: ShortText | None = None
    enabled: bool = True
    deleted: bool = False
    updated_by: Identifier
    updated_at: AwareDatetime

    @classmethod
    def from_v1(cls, old: v1.AlertRuleConfigured) -> AlertRuleConfigured:
        """The same rule as v2 (every v1 rule is one: v2 only adds kinds and ``baseline_s``)."""
        return cls.model_validate(old.model_dump())

    @model_validator(mode="after")
    def _threshold_where_compared(self) -> AlertRuleConfigured:
        if self.kind in COMPARED and (self.metric is None or self.threshold is None):
            raise ValueError(f"a {self.kind} rule needs metric and threshold")
        if (self.kind == "evaluation_score_drop") != (self.baseline_s is not None):
            raise ValueError("baseline_s is set exactly for an evaluation_score_drop rule")
        if self.kind == "evaluation_score_drop" and (self.threshold or 0.0) <= 0:
            raise ValueError("an evaluation_score_drop rule's threshold is the drop that fires it (above 0)")
        return self

    def entity_key(self) -> str:
        return f"rule:{self.rule_id}"
