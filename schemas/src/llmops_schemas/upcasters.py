"""The platform's upcasters, one per superseded event type (see :mod:`llmops_schemas.upcasting`).

Imported by :mod:`llmops_schemas.registry`, so that every reader of events has them registered.
"""

from __future__ import annotations

from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.upcasting import register_upcaster, with_payload
from llmops_schemas.v1 import alerting as v1_alerting
from llmops_schemas.v1 import alerts as v1_alerts
from llmops_schemas.v1 import audit as v1_audit
from llmops_schemas.v1 import calls as v1_calls
from llmops_schemas.v1 import cost as v1_cost
from llmops_schemas.v1 import drift as v1_drift
from llmops_schemas.v1 import erasure as v1_erasure
from llmops_schemas.v1 import evaluation as v1_evaluation
from llmops_schemas.v1 import feedback as v1_feedback
from llmops_schemas.v1 import governance as v1_governance
from llmops_schemas.v2 import alerting as v2_alerting
from llmops_schemas.v2 import alerts as v2_alerts
from llmops_schemas.v2 import audit as v2_audit
from llmops_schemas.v2 import calls as v2_calls
from llmops_schemas.v2 import cost as v2_cost
from llmops_schemas.v2 import drift as v2_drift
from llmops_schemas.v2 import erasure as v2_erasure
from llmops_schemas.v2 import evaluation as v2_evaluation
from llmops_schemas.v2 import feedback as v2_feedback
from llmops_schemas.v2 import governance as v2_governance

__all__: list[str] = []


@register_upcaster(v1_calls.CallRecorded.event_type)
def _call_recorded_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 call as v2: same envelope (id, source, time, tenant, trace, key), payload by ``from_v1``."""
    return with_payload(event, v2_calls.CallRecorded.from_v1(event.data))


@register_upcaster(v1_feedback.FeedbackReceived.event_type)
def _feedback_received_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """v1 feedback as v2: the same payload (v2 only adds the kind ``label`` and ``session_id``)."""
    return with_payload(event, v2_feedback.FeedbackReceived.from_v1(event.data))


@register_upcaster(v1_evaluation.EvaluationScored.event_type)
def _evaluation_scored_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 score as a v2 pass of one item (the item's ``score_id`` is the v1 ``evaluation_id``)."""
    return with_payload(event, v2_evaluation.EvaluationScored.from_v1(event.data))


@register_upcaster(v1_cost.CostRecorded.event_type)
def _cost_recorded_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 cost as v2: priced from the catalog, without the grouping fields v1 did not carry."""
    return with_payload(event, v2_cost.CostRecorded.from_v1(event.data))


@register_upcaster(v1_alerts.AlertStateChanged.event_type)
def _alert_state_changed_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 alert change as v2: the same payload (v2 adds ``acknowledged``, the rule id and the group)."""
    return with_payload(event, v2_alerts.AlertStateChanged.from_v1(event.data))


@register_upcaster(v1_alerting.AlertRuleConfigured.event_type)
def _alert_rule_configured_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 alert rule as v2: the same rule (v2 adds the kinds evaluation_score_drop and cost_anomaly)."""
    return with_payload(event, v2_alerting.AlertRuleConfigured.from_v1(event.data))


@register_upcaster(v1_audit.AuditRecorded.event_type)
def _audit_recorded_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 audit entry as v2: its producer's per-process chain fields, address and user agent dropped."""
    return with_payload(event, v2_audit.AuditRecorded.from_v1(event.data))


@register_upcaster(v1_drift.DriftReported.event_type)
def _drift_reported_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 report of one feature as a v2 check of that feature (its verdict is the dataset's)."""
    return with_payload(event, v2_drift.DriftReported.from_v1(event.data))


@register_upcaster(v1_erasure.ErasureRequested.event_type)
def _erasure_requested_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 erasure request as v2: the same payload (v2 adds subject types)."""
    return with_payload(event, v2_erasure.ErasureRequested.from_v1(event.data))


@register_upcaster(v1_erasure.ErasureProcessed.event_type)
def _erasure_processed_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 receipt as v2: its ``rows_affected`` counted under the service's name."""
    return with_payload(event, v2_erasure.ErasureProcessed.from_v1(event.data))


@register_upcaster(v1_governance.PolicyPublished.event_type)
def _policy_published_v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """A v1 policy as v2: the same payload (v2 only adds kinds; the v1 kinds' settings are the same classes)."""
    return with_payload(event, v2_governance.PolicyPublished.from_v1(event.data))
