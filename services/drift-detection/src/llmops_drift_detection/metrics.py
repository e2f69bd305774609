"""The drift-detection service's own Prometheus metrics (the kit's cover HTTP and publishing)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["CALLS", "OPEN_ENTRIES", "REPORTS"]

CALLS = Counter(
    "llmops_drift_calls_total",
    "Recorded calls read, by outcome ('windowed', 'platform': excluded, 'late': its window had closed, "
    "'over_bound': the window already held its most calls, 'dead_lettered')",
    ["outcome"],
)
REPORTS = Counter("llmops_drift_reports_total", "Drift reports published, by verdict", ["verdict"])
OPEN_ENTRIES = Gauge("llmops_drift_window_entries", "Calls held in open windows (all scopes)")
