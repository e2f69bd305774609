"""bench_alerting's reports are valid drift events for its rules, and its report says whether the target is met
(every notification delivered, and the p95 under 5 s)."""

from __future__ import annotations

from datetime import UTC, datetime

import bench_alerting
from llmops_alerting.rules import ScoreWindows, observe_event
from llmops_schemas.v1 import AlertRuleConfigured


def test_a_report_observes_the_rule_of_its_app_only() -> None:
    now = datetime.now(UTC)
    rules = [
        AlertRuleConfigured(
            rule_id=f"drift-{n}", name="d", kind="drift", app=f"app-{n}", updated_by="k", updated_at=now
        )
        for n in range(3)
    ]
    [seen] = observe_event(bench_alerting.report_event("app-1", True, now), rules, ScoreWindows(10, 1))
    assert seen.rule_id == "drift-1" and seen.holds and seen.source_event_id


def test_the_report_needs_every_notification_and_the_p95() -> None:
    args = bench_alerting.parse_args([])
    row = {
        "rate": 1000.0,
        "published": 30000.0,
        "notifications": 1500.0,
        "delivered": 1500.0,
        "calls": 1500.0,
        "p50": 0.2,
        "p95": 1.1,
        "p99": 1.3,
        "max": 1.4,
        "alerting_cores": 0.2,
        "kafka_cores": 0.2,
        "rest_cores": 1.5,
    }
    text = "\n".join(bench_alerting.report(row, args))
    assert "1,000 events/s: **met**" in text and "| 1,100 ms |" in text
    assert "**NOT met**" in "\n".join(bench_alerting.report({**row, "delivered": 1499.0}, args))
    assert "**NOT met**" in "\n".join(bench_alerting.report({**row, "p95": 5.2}, args))
