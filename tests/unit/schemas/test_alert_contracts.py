"""The alerting contracts: v2 alert changes (acknowledged), the v1 upcaster, and the configuration's own rules."""

from __future__ import annotations

from typing import Any

import pytest
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import AlertRuleConfigured, ObjectiveConfigured, SilenceSet
from llmops_schemas.v1 import AlertStateChanged as AlertV1
from llmops_schemas.v1.examples import example, example_data
from llmops_schemas.v2 import AlertRuleConfigured as RuleV2
from llmops_schemas.v2 import AlertStateChanged
from llmops_schemas.v2.examples import EXAMPLES as V2
from pydantic import ValidationError


def test_a_v1_alert_is_read_as_v2_with_the_same_fields() -> None:
    old = CloudEvent.wrap(example(AlertV1), source="/old", tenant_id="acme")
    event = parse_event(old.to_json_bytes())
    assert event.type == AlertStateChanged.event_type
    assert event.id == old.id
    assert event.data.alert_id == old.data.alert_id and event.data.status == "firing"
    assert event.data.acknowledged_by is None and event.data.rule_id is None


def test_a_v1_rule_is_read_as_v2_under_the_same_key() -> None:
    old = CloudEvent.wrap(example(AlertRuleConfigured), source="/old", tenant_id="acme")
    event = parse_event(old.to_json_bytes())
    assert event.type == RuleV2.event_type and event.data.baseline_s is None
    assert event.data.model_dump(exclude={"baseline_s"}) == old.data.model_dump()
    assert event.data.entity_key() == old.data.entity_key()


BAD: list[tuple[type[Any], dict[str, Any], str]] = [
    (AlertStateChanged, {"acknowledged_by": None}, "acknowledged alert needs"),
    (AlertStateChanged, {"acknowledged_at": None}, "acknowledged alert needs"),
    (AlertStateChanged, {"status": "firing", "acknowledged_at": None}, "go together"),
    (AlertStateChanged, {"ends_at": "2025-03-14T10:00:00Z"}, "only a resolved alert has ends_at"),
    (AlertRuleConfigured, {"threshold": None}, "needs metric and threshold"),
    (RuleV2, {"baseline_s": None}, "baseline_s is set exactly for an evaluation_score_drop rule"),
    (RuleV2, {"threshold": 0}, "threshold is the drop that fires it"),
    (RuleV2, {"kind": "cost_anomaly", "metric": None, "threshold": None}, "baseline_s is set exactly"),
    (ObjectiveConfigured, {"target": 1}, "strictly between 0 and 1"),
    (ObjectiveConfigured, {"threshold": None}, "threshold is set for every sli but error_rate"),
    (ObjectiveConfigured, {"sli": "evaluation_score"}, "metric is set exactly"),
    (SilenceSet, {"matchers": {}}, "at least one matcher"),
    (SilenceSet, {"ends_at": "2025-03-14T09:00:00Z"}, "after starts_at"),
]


@pytest.mark.parametrize(("cls", "change", "message"), BAD, ids=[f"{c.__name__}-{m}" for c, _, m in BAD])
def test_inconsistent_payloads_are_refused(cls: type[Any], change: dict[str, Any], message: str) -> None:
    data = {**(V2[cls] if cls in V2 else example_data(cls)), **change}
    with pytest.raises(ValidationError, match=message):
        cls.model_validate(data)
