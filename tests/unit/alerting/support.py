"""Shared data of the alerting unit tests: keys, a fixed clock, rules and notifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
KEYS = {
    "admin": ("sk-admin-acme", "acme", "admin"),
    "reader": ("sk-reader-acme", "acme", "reader"),
    "writer": ("sk-writer-acme", "acme", "writer"),
    "other": ("sk-admin-globex", "globex", "admin"),
}
ROUTING_KEY = "R" * 32
SECRETS = {"pd": ROUTING_KEY, "hook": "webhook-signing-secret", "slack-path": "/services/T000/B000/XXXX"}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


def metric_rule(**change: Any) -> dict[str, Any]:
    return {
        "name": "support-bot error rate",
        "kind": "metric",
        "metric": "error_rate",
        "app": "support-bot",
        "threshold": 0.05,
        "window_s": 300,
        "severity": "critical",
        "group_by": ["app"],
        **change,
    }
