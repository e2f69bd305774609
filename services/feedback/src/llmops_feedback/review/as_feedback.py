"""A review, also as feedback: each answer a reviewer gives is a ``llmops.feedback.received.v2`` on its call.

So the rest of the platform (the warehouse's ``feedback`` table, A/B verdicts, the preference export) sees a
review queue's verdicts, labels, ratings and corrections like any other reviewer's feedback, with ``source``
``review-queue``, the reviewer's key id as ``user_id`` and the queue in ``metadata``. The ids derive from
(queue, item, reviewer, kind), so a retried review publishes the same events, which the warehouse stores once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from llmops_schemas import CloudEvent
from llmops_schemas.v1 import Review, ReviewItemUpdated
from llmops_schemas.v2 import FeedbackReceived

from llmops_feedback.handlers import feedback_event_id

__all__ = ["REVIEW_SOURCE", "review_feedback"]

REVIEW_SOURCE = "review-queue"


def _answers(review: Review) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    if review.verdict is not None:
        answers.append({"kind": "thumbs", "value": 1 if review.verdict == "approve" else 0})
    if review.rating is not None:
        answers.append({"kind": "rating", "value": review.rating})
    if review.label is not None:
        answers.append({"kind": "label", "label": review.label})
    if review.correction is not None:
        answers.append({"kind": "correction", "correction": review.correction})
    if review.comment is not None:
        answers[0]["comment"] = review.comment
    return answers


def review_feedback(
    tenant: str, item: ReviewItemUpdated, review: Review, *, source: str
) -> list[CloudEvent[FeedbackReceived]]:
    """One feedback event per answer of ``review`` (verdict as thumbs, rating, label, correction)."""
    digest = hashlib.sha256(f"{item.queue}\0{item.item_id}\0{review.reviewer}".encode()).hexdigest()[:40]
    events = []
    for answer in _answers(review):
        feedback = FeedbackReceived(
            feedback_id=f"review-{digest}-{answer['kind']}",
            call_id=item.call_id,
            user_id=review.reviewer,
            source=REVIEW_SOURCE,
            metadata={"queue": item.queue, "item_id": item.item_id},
            given_at=review.reviewed_at,
            **answer,
        )
        event = CloudEvent.wrap(
            feedback,
            source=source,
            tenant_id=tenant,
            event_id=feedback_event_id(tenant, feedback.feedback_id, feedback.given_at),
            subject=item.call_id,
            key_id=review.reviewer,
        )
        events.append(event.model_copy(update={"time": feedback.given_at}))
    return events
