"""Ingest's own metrics, next to the kit's (``llmops_events_*``, ``llmops_http_*``).

No tenant label: tenants are unbounded and would multiply every series. ``reason`` is a small, fixed
set (see :data:`REASONS`), so the counter stays a handful of series per process. ``json`` and ``tenant``
occur only on the raw topic: over HTTP a body that is not JSON is one 400, not a count of records;
``unavailable`` only over HTTP: valid records Kafka did not acknowledge in time (the 503 lists them).
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

__all__ = ["REASONS", "RECORDS", "Reason", "count_records"]

Reason = Literal["ok", "schema", "origin", "timestamp", "pii", "size", "json", "tenant", "unavailable"]
REASONS: tuple[Reason, ...] = ("ok", "schema", "origin", "timestamp", "pii", "size", "json", "tenant", "unavailable")

RECORDS = Counter(
    "llmops_ingest_records_total",
    "Call records ingest accepted (reason=ok) or rejected, by entrypoint and reason",
    ["entrypoint", "outcome", "reason"],
)


def count_records(entrypoint: Literal["http", "kafka"], reason: Reason, n: int = 1) -> None:
    """Add ``n`` records; ``reason='ok'`` counts them as accepted, anything else as rejected."""
    if n:
        RECORDS.labels(entrypoint, "accepted" if reason == "ok" else "rejected", reason).inc(n)
