"""How an item of a review queue changes: claimed, released, assigned, reviewed. Pure functions, no I/O.

Each function takes the item's current state (``ReviewItemUpdated``) and returns its next state, or raises
:class:`ReviewRefused` naming the HTTP status and why: the desk publishes the next state, and the state on
the compacted topic is the only truth (every replica folds the same records into the same items).

**Locks.** A reviewer claims an item to review it; the lock is theirs until ``locked_until``. Another
reviewer's live lock is a 409; a lock past its time is free to anyone (nothing needs to expire it), and a
review sent on an expired lock is refused (409, ``lock_expired``): the reviewer claims again, since someone
else may have reviewed it meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from llmops_schemas.v1 import Review, ReviewItemUpdated, ReviewQueueConfigured

__all__ = ["ReviewRefused", "assign", "can_claim", "claim", "enqueue", "release", "review"]


@dataclass
class ReviewRefused(Exception):
    """A change the item's state does not allow: ``status`` is the HTTP answer, ``reason`` a stable code."""

    status: int
    reason: str
    detail: str
    retry_after_s: int | None = None

    def __str__(self) -> str:
        return self.detail


def _next(item: ReviewItemUpdated, now: datetime, actor: str, **changes: Any) -> ReviewItemUpdated:
    return item.model_copy(update={"revision": item.revision + 1, "updated_at": now, "actor": actor, **changes})


def enqueue(
    queue: str, call_id: str, reason: str | None, now: datetime, actor: str, position: int
) -> ReviewItemUpdated:
    """A new open item for ``call_id`` (its id is the call id: a call is in a queue at most once), ``position``
    its place in the source's order (the later changes copy it)."""
    return ReviewItemUpdated(
        queue=queue,
        item_id=call_id,
        call_id=call_id,
        reason=reason,
        position=position,
        action="enqueued",
        actor=actor,
        status="open",
        revision=0,
        updated_at=now,
    )


def lock_live(item: ReviewItemUpdated, now: datetime) -> bool:
    """Whether someone holds the item now."""
    return item.locked_by is not None and item.locked_until is not None and item.locked_until > now


def reviewed_by(item: ReviewItemUpdated, reviewer: str) -> bool:
    return any(r.reviewer == reviewer for r in item.reviews)


def can_claim(item: ReviewItemUpdated, reviewer: str, now: datetime) -> bool:
    """Whether ``next`` may hand this item to ``reviewer``: open, unlocked, not theirs already, assigned to them."""
    return (
        item.status == "open"
        and not lock_live(item, now)
        and not reviewed_by(item, reviewer)
        and item.assignee in (None, reviewer)
    )


def claim(item: ReviewItemUpdated, reviewer: str, now: datetime, ttl: timedelta) -> ReviewItemUpdated:
    """Lock ``item`` for ``reviewer`` until ``now + ttl`` (their own live lock is renewed)."""
    if item.status == "done":
        raise ReviewRefused(409, "item_done", f"item {item.item_id} has all its reviews")
    if reviewed_by(item, reviewer):
        raise ReviewRefused(409, "already_reviewed", f"you already reviewed item {item.item_id}")
    if lock_live(item, now) and item.locked_by != reviewer:
        raise ReviewRefused(
            409, "locked", f"item {item.item_id} is locked by another reviewer until {item.locked_until:%H:%M:%SZ}"
        )
    if item.assignee not in (None, reviewer):
        raise ReviewRefused(409, "assigned", f"item {item.item_id} is assigned to another reviewer")
    return _next(item, now, reviewer, action="claimed", locked_by=reviewer, locked_until=now + ttl)


def release(item: ReviewItemUpdated, reviewer: str, now: datetime) -> ReviewItemUpdated:
    """Give a claimed item back unreviewed (only its holder may)."""
    if item.locked_by != reviewer or not lock_live(item, now):
        raise ReviewRefused(409, "not_locked_by_you", f"you hold no lock on item {item.item_id}")
    return _next(item, now, reviewer, action="released", locked_by=None, locked_until=None)


def assign(item: ReviewItemUpdated, assignee: str | None, now: datetime, actor: str) -> ReviewItemUpdated:
    """Reserve an open item for one reviewer (``None``: for anyone)."""
    if item.status == "done":
        raise ReviewRefused(409, "item_done", f"item {item.item_id} has all its reviews")
    if assignee is not None and reviewed_by(item, assignee):
        raise ReviewRefused(409, "already_reviewed", f"{assignee} already reviewed item {item.item_id}")
    return _next(item, now, actor, action="assigned", assignee=assignee)


def review(item: ReviewItemUpdated, given: Review, queue: ReviewQueueConfigured, now: datetime) -> ReviewItemUpdated:
    """Record ``given`` on the item its reviewer holds; done once ``reviews_per_item`` reviewers reviewed it."""
    reviewer = given.reviewer
    if reviewed_by(item, reviewer):
        raise ReviewRefused(409, "already_reviewed", f"you already reviewed item {item.item_id}")
    if item.status == "done":
        raise ReviewRefused(409, "item_done", f"item {item.item_id} has all its reviews")
    if item.locked_by != reviewer:
        raise ReviewRefused(409, "not_locked_by_you", f"claim item {item.item_id} before reviewing it")
    if not lock_live(item, now):
        raise ReviewRefused(
            409,
            "lock_expired",
            f"your lock on item {item.item_id} expired at {item.locked_until:%H:%M:%SZ}; claim it again",
        )
    if given.label is not None and queue.labels and given.label not in queue.labels:
        raise ReviewRefused(422, "unknown_label", f"label {given.label!r} is not one of {', '.join(queue.labels)}")
    reviews = [*item.reviews, given]
    status = "done" if len(reviews) >= queue.reviews_per_item else "open"
    return _next(
        item, now, reviewer, action="reviewed", reviews=reviews, status=status, locked_by=None, locked_until=None,
        assignee=None,
    )  # fmt: skip
