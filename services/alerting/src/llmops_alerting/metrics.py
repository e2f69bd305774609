"""The alerting service's own Prometheus metrics (the kit's consumer and HTTP metrics come with the kit)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["ALERT_CHANGES", "NOTIFICATIONS", "NOTIFICATIONS_OWED", "NOTIFY_LATENCY"]

ALERT_CHANGES = Counter("llmops_alert_changes_total", "Alert state changes published", ["status"])
NOTIFICATIONS = Counter("llmops_alert_notifications_total", "Notifier calls by kind and outcome", ["kind", "outcome"])
NOTIFICATIONS_OWED = Gauge("llmops_alert_notifications_owed", "Notifications in the outbox not yet accepted")
NOTIFY_LATENCY = Histogram(
    "llmops_alert_notify_seconds",
    "From the alert change to the notifier's acceptance",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
