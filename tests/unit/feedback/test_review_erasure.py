"""Erasure in the review state: which items hold a subject, and that forgetting them removes them."""

from __future__ import annotations

from datetime import UTC, datetime

from llmops_feedback.review.erasure import ReviewErasure
from llmops_feedback.review.state import ReviewState
from llmops_kit.erasure import Held
from llmops_schemas.v1 import Review, ReviewItemUpdated

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TOPIC = ReviewItemUpdated.topic


def item(queue: str, call_id: str, comment: str | None = None) -> ReviewItemUpdated:
    reviews = [Review(reviewer="k-1", verdict="reject", comment=comment, reviewed_at=AT)] if comment else []
    return ReviewItemUpdated(queue=queue, item_id=call_id, call_id=call_id, action="enqueued", status="open",
                             reviews=reviews, revision=0, updated_at=AT)  # fmt: skip


def state() -> ReviewState:
    found = ReviewState()
    rows = [("acme", "low", "call-1", None), ("acme", "low", "call-2", "mail ANN@x.io"),
            ("acme", "neg", "call-1", None), ("globex", "low", "call-1", None)]  # fmt: skip
    for tenant, queue, call, comment in rows:
        found.put_item(tenant, item(queue, call, comment))
    return found


def test_items_are_matched_by_call_in_every_queue_of_the_tenant() -> None:
    erasure = ReviewErasure(state())
    assert erasure.holding_subject("acme", "call_id", "call-1") == [
        Held("review_items", TOPIC, "acme:low:call-1"),
        Held("review_items", TOPIC, "acme:neg:call-1"),
    ]
    assert [h.key for h in erasure.holding_calls("acme", frozenset({"call-2"}))] == ["acme:low:call-2"]
    assert erasure.holding_subject("acme", "session_id", "s-1") == []


def test_items_are_matched_by_an_email_in_a_review() -> None:
    erasure = ReviewErasure(state())
    assert [h.key for h in erasure.holding_subject("acme", "email", "ann@x.io")] == ["acme:low:call-2"]


def test_forgotten_items_are_gone_from_the_state() -> None:
    found = state()
    erasure = ReviewErasure(found)
    erasure.forget("acme", erasure.holding_subject("acme", "call_id", "call-1"))
    assert list(found.items("acme", "low")) == ["call-2"] and list(found.items("acme", "neg")) == []
    assert list(found.items("globex", "low")) == ["call-1"]
