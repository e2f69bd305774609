"""The feedback service's own metrics, next to the kit's (``llmops_events_*``, ``llmops_http_*``).

No tenant or call label (both unbounded): ``via`` is ``key`` or ``token``, ``outcome`` a handful of values.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

__all__ = ["EXPORT_ROWS", "ITEMS", "REVIEWS", "REVIEW_ITEMS", "REVIEW_REFUSED", "count_items"]

Outcome = Literal["accepted", "rejected", "unavailable"]

ITEMS = Counter(
    "llmops_feedback_items_total",
    "Feedback items accepted, rejected (invalid) or not acknowledged by Kafka, by how they were authorised",
    ["via", "outcome"],
)


def count_items(via: str, outcome: Outcome, n: int = 1) -> None:
    """Add ``n`` items of ``outcome`` submitted ``via`` a key or a token."""
    if n:
        ITEMS.labels(via, outcome).inc(n)


REVIEW_ITEMS = Counter(
    "llmops_review_item_changes_total",
    "Changes to review-queue items, by action (enqueued, claimed, released, assigned, reviewed)",
    ["action"],
)
REVIEWS = Counter("llmops_reviews_total", "Reviews recorded on review-queue items")
REVIEW_REFUSED = Counter(
    "llmops_review_refused_total",
    "Review-queue requests refused, by reason (locked, lock_expired, already_reviewed, unknown_queue...)",
    ["reason"],
)
EXPORT_ROWS = Counter(
    "llmops_export_rows_total", "Rows written by preference and fine-tuning exports, by format", ["format"]
)
