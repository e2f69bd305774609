"""How review items change: locks (held, expired, renewed), reviews (twice by one reviewer, labels), progress
and agreement between reviewers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from llmops_feedback.review import rules
from llmops_feedback.review.progress import agreement, progress
from llmops_feedback.review.rules import ReviewRefused
from llmops_schemas.v1 import Review, ReviewItemUpdated, ReviewQueueConfigured

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)


def queue(**fields: object) -> ReviewQueueConfigured:
    return ReviewQueueConfigured.model_validate(
        {"name": "q", "source": "sample", "labels": ["good", "bad"], "item_count": 1, "updated_at": NOW, **fields}
    )


def item(call_id: str = "call-1") -> ReviewItemUpdated:
    return rules.enqueue("q", call_id, "random sample", NOW, "admin", 0)


def given(reviewer: str, at: datetime = NOW, **answers: object) -> Review:
    return Review.model_validate({"reviewer": reviewer, "reviewed_at": at, **({"verdict": "approve"} | answers)})


def test_a_claimed_item_is_locked_against_others_until_its_lock_expires() -> None:
    claimed = rules.claim(item(), "ann", NOW, TTL)
    assert (claimed.locked_by, claimed.locked_until, claimed.revision) == ("ann", NOW + TTL, 1)
    with pytest.raises(ReviewRefused) as held:
        rules.claim(claimed, "bob", NOW + TTL - timedelta(seconds=1), TTL)
    assert (held.value.status, held.value.reason) == (409, "locked")
    assert not rules.can_claim(claimed, "bob", NOW)
    later = NOW + TTL + timedelta(seconds=1)
    assert rules.can_claim(claimed, "bob", later)
    assert rules.claim(claimed, "bob", later, TTL).locked_by == "bob"
    renewed = rules.claim(claimed, "ann", NOW + timedelta(minutes=5), TTL)
    assert renewed.locked_until == NOW + timedelta(minutes=5) + TTL


def test_a_review_on_an_expired_lock_or_without_one_is_refused() -> None:
    claimed = rules.claim(item(), "ann", NOW, TTL)
    late = NOW + TTL + timedelta(seconds=1)
    with pytest.raises(ReviewRefused) as expired:
        rules.review(claimed, given("ann", late), queue(), late)
    assert (expired.value.status, expired.value.reason) == (409, "lock_expired")
    with pytest.raises(ReviewRefused) as unlocked:
        rules.review(item(), given("ann"), queue(), NOW)
    assert unlocked.value.reason == "not_locked_by_you"


def test_one_reviewer_reviews_an_item_once_and_it_is_done_after_enough_reviewers() -> None:
    two = queue(reviews_per_item=2)
    first = rules.review(rules.claim(item(), "ann", NOW, TTL), given("ann"), two, NOW)
    assert (first.status, first.locked_by, len(first.reviews)) == ("open", None, 1)
    with pytest.raises(ReviewRefused) as again:
        rules.claim(first, "ann", NOW, TTL)
    assert (again.value.status, again.value.reason) == (409, "already_reviewed")
    assert not rules.can_claim(first, "ann", NOW)
    done = rules.review(rules.claim(first, "bob", NOW, TTL), given("bob"), two, NOW)
    assert done.status == "done"
    with pytest.raises(ReviewRefused) as closed:
        rules.claim(done, "cy", NOW, TTL)
    assert closed.value.reason == "item_done"


def test_a_label_the_queue_does_not_offer_is_a_422() -> None:
    claimed = rules.claim(item(), "ann", NOW, TTL)
    with pytest.raises(ReviewRefused) as bad:
        rules.review(claimed, given("ann", label="great"), queue(), NOW)
    assert (bad.value.status, bad.value.reason) == (422, "unknown_label")
    assert rules.review(claimed, given("ann", label="good"), queue(), NOW).reviews[0].label == "good"


def test_release_and_assignment() -> None:
    claimed = rules.claim(item(), "ann", NOW, TTL)
    with pytest.raises(ReviewRefused):
        rules.release(claimed, "bob", NOW)
    released = rules.release(claimed, "ann", NOW)
    assert released.locked_by is None and released.action == "released"
    assigned = rules.assign(released, "bob", NOW, "admin")
    assert not rules.can_claim(assigned, "ann", NOW) and rules.can_claim(assigned, "bob", NOW)
    with pytest.raises(ReviewRefused) as other:
        rules.claim(assigned, "ann", NOW, TTL)
    assert other.value.reason == "assigned"


def _reviewed(call_id: str, first: dict[str, object], second: dict[str, object] | None) -> ReviewItemUpdated:
    reviews = [given("ann", **first)] + ([given("bob", **second)] if second else [])
    return item(call_id).model_copy(update={"reviews": reviews, "status": "done" if second else "open"})


def test_progress_counts_items_by_state() -> None:
    items = [
        _reviewed("c1", {"label": "good"}, {"label": "good"}),
        _reviewed("c2", {"label": "bad"}, None),
        rules.claim(item("c3"), "ann", NOW, TTL),
        item("c4"),
    ]
    counted = progress(items, 2, NOW)
    assert (counted.items, counted.open, counted.locked, counted.done) == (4, 2, 1, 1)
    assert (counted.reviews, counted.reviews_wanted, counted.fraction_done) == (3, 8, 3 / 8)


def test_cohens_kappa_between_the_first_and_second_reviewer() -> None:
    # 2x2 table: both good 4, both bad 3, ann good/bob bad 2, ann bad/bob good 1 (n=10).
    # p_o = 0.7; p_e = 0.6*0.5 + 0.4*0.5 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4
    answers = [("good", "good")] * 4 + [("bad", "bad")] * 3 + [("good", "bad")] * 2 + [("bad", "good")]
    items = [_reviewed(f"c{n}", {"label": a}, {"label": b}) for n, (a, b) in enumerate(answers)]
    items.append(_reviewed("single", {"label": "good"}, None))
    by_answer = {a.answer: a for a in agreement(items)}
    assert by_answer["label"].items == 10
    assert by_answer["label"].kappa == pytest.approx(0.4)
    assert by_answer["label"].observed == pytest.approx(0.7)
    assert by_answer["verdict"].kappa is None  # everyone approved: kappa is undefined
    assert "rating" not in by_answer


def test_kappa_is_none_with_a_single_pair() -> None:
    only = {a.answer: a for a in agreement([_reviewed("c1", {"label": "good"}, {"label": "bad"})])}["label"]
    assert (only.items, only.kappa, only.observed) == (1, None, 0.0)
