"""The cost service's own Prometheus metrics (the kit's cover consuming and HTTP)."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["COSTS", "UNPRICED"]

COSTS = Counter("llmops_cost_records_total", "Cost events published", ["pricing"])
UNPRICED = Counter(
    "llmops_cost_unpriced_total",
    "Calls recorded as unpriced, by reason ('unknown_model': no price in force)",
    ["reason"],
)
