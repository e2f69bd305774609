"""The drift-detection service's own Prometheus metrics (the kit's cover HTTP and publishing)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["CALLS", "EMBEDDINGS", "OPEN_ENTRIES", "REPORTS"]

CALLS = Counter(
    "llmops_drift_calls_total",
    "Recorded calls read, by outcome ('windowed', 'duplicate': already in the window, folded again after a "
    "restart, 'platform': excluded, 'late': its window had closed, 'over_bound': the window already held its "
    "most calls, 'dead_lettered'); a call in several (sliding) windows counts once per window",
    ["outcome"],
)
REPORTS = Counter("llmops_drift_reports_total", "Drift reports published, by verdict", ["verdict"])
OPEN_ENTRIES = Gauge("llmops_drift_window_entries", "Calls held in open windows (all scopes)")
EMBEDDINGS = Counter(
    "llmops_drift_embeddings_total",
    "Sampled calls by what became of their prompt embedding ('embedded', 'failed': the gateway refused or failed, "
    "'timeout': no answer in time, 'paused': skipped while embedding pauses after a failure); rows without one "
    "are stored all the same",
    ["outcome"],
)
