"""The review desk: creates queues from history, hands items to reviewers, records their reviews.

Every change is published before it is applied to the local :class:`ReviewState` (so a change the caller is
told succeeded is on the log), under a lock per queue so two requests on one replica cannot both claim an
item. Queue creation is audited (``llmops.audit.recorded.v1``, with the queue's record); reviews are also
published as feedback (:mod:`llmops_feedback.review.as_feedback`).

An item action answers with the item, other reviewers' corrections and comments included: a privileged read
(docs/adr/0052). Its :data:`ItemAudit` runs under the queue's lock once the next state is decided and before it
is published: an entry Kafka does not acknowledge refuses the action (503) with nothing changed, and a change
that fails after its entry was written is followed by a ``failure`` entry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.warehouse import HistoryError, HistoryReader, HistoryUnavailable
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import Review, ReviewItemUpdated, ReviewQueueConfigured

from llmops_feedback.errors import UNAVAILABLE
from llmops_feedback.metrics import REVIEW_ITEMS, REVIEWS
from llmops_feedback.review import rules
from llmops_feedback.review.as_feedback import review_feedback
from llmops_feedback.review.rules import ReviewRefused
from llmops_feedback.review.sources import SOURCES, Picked, SourceError, SourceInput
from llmops_feedback.review.state import ReviewState

__all__ = ["DeskLimits", "ItemAudit", "QueueSpec", "ReviewDesk"]

ItemAudit = Callable[[ReviewItemUpdated, Literal["success", "failure"]], Awaitable[None]]
"""Puts an item action on the audit trail (the item's next state, the outcome); raises to refuse the action."""


@dataclass(frozen=True, slots=True)
class DeskLimits:
    """The bounds of the desk (settings ``FEEDBACK_REVIEW_*``)."""

    max_queues_per_tenant: int = 100
    max_items_per_queue: int = 5_000
    max_history_rows: int = 20_000
    publish_timeout_s: float = 10.0
    retry_after_s: int = 5


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue as a client asks for it (validated by the route's model)."""

    name: str
    source: str
    params: dict[str, Any]
    labels: list[str]
    reviews_per_item: int
    lock_ttl_s: int
    max_items: int
    description: str | None = None


class ReviewDesk:
    """The review queues' use cases, over the materialised state, a publisher and the warehouse."""

    def __init__(
        self,
        state: ReviewState,
        publisher: EventPublisher,
        history: HistoryReader | None,
        *,
        source: str,
        limits: DeskLimits,
        clock: Callable[[], datetime],
    ) -> None:
        self.state = state
        self._publisher = publisher
        self._history = history
        self._source = source
        self._limits = limits
        self._clock = clock
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def now(self) -> datetime:
        return self._clock()

    def check_ready(self) -> None:
        """A 503 until both review topics have been read up to where they ended at start."""
        if not self.state.caught_up:
            raise ReviewRefused(503, "starting", "the review state is still loading", self._limits.retry_after_s)

    def queue(self, tenant: str, name: str) -> ReviewQueueConfigured:
        """The queue, or a 404 naming it."""
        self.check_ready()
        found = self.state.queue(tenant, name)
        if found is None:
            raise ReviewRefused(404, "unknown_queue", f"no review queue {name!r}")
        return found

    def item(self, tenant: str, queue: str, item_id: str) -> ReviewItemUpdated:
        self.queue(tenant, queue)
        found = self.state.items(tenant, queue).get(item_id)
        if found is None:
            raise ReviewRefused(404, "unknown_item", f"queue {queue!r} has no item {item_id!r}")
        return found

    async def _publish(self, events: Sequence[CloudEvent[Any]]) -> None:
        try:
            await asyncio.wait_for(self._publisher.publish_many(list(events)), self._limits.publish_timeout_s)
        except UNAVAILABLE:
            raise ReviewRefused(
                503, "kafka_unavailable", "Kafka did not acknowledge the change; send it again",
                self._limits.retry_after_s,
            ) from None  # fmt: skip

    def _wrap(self, tenant: str, payload: ReviewItemUpdated | ReviewQueueConfigured, actor: str) -> CloudEvent[Any]:
        subject = payload.call_id if isinstance(payload, ReviewItemUpdated) else None
        return CloudEvent.wrap(payload, source=self._source, tenant_id=tenant, subject=subject, key_id=actor)

    async def _pick(self, tenant: str, spec: QueueSpec) -> Picked:
        if spec.source not in SOURCES:
            raise ReviewRefused(422, "unknown_source", f"unknown source {spec.source!r}; known: {', '.join(SOURCES)}")
        if self._history is None and not (spec.source == "dataset" and "call_ids" in spec.params):
            raise ReviewRefused(
                503, "no_history", "no warehouse is configured (LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY)"
            )
        source = SourceInput(
            tenant,
            spec.params,
            spec.max_items,
            self._limits.max_history_rows,
            self.now(),
            self._history,  # type: ignore[arg-type]
        )
        try:
            return await SOURCES[spec.source](source)
        except SourceError as exc:
            raise ReviewRefused(422, "bad_params", str(exc)) from None
        except HistoryUnavailable as exc:
            raise ReviewRefused(503, "warehouse_unavailable", str(exc), exc.retry_after_s) from None
        except HistoryError as exc:
            raise ReviewRefused(502, "warehouse_refused", str(exc)) from None

    def _check_new(self, tenant: str, spec: QueueSpec) -> None:
        self.check_ready()
        if self.state.queue(tenant, spec.name) is not None:
            raise ReviewRefused(409, "queue_exists", f"a review queue {spec.name!r} exists already")
        if len(self.state.queues(tenant)) >= self._limits.max_queues_per_tenant:
            limit = self._limits.max_queues_per_tenant
            raise ReviewRefused(409, "too_many_queues", f"the tenant has {limit} review queues, the most allowed")
        if spec.max_items > self._limits.max_items_per_queue:
            limit = self._limits.max_items_per_queue
            raise ReviewRefused(413, "too_many_items", f"max_items is at most {limit} per queue")

    async def create_queue(self, tenant: str, actor: Actor, spec: QueueSpec) -> tuple[ReviewQueueConfigured, Picked]:
        """Choose the items from history, then publish them, the queue and its audit entry together."""
        self._check_new(tenant, spec)
        picked = await self._pick(tenant, spec)
        now = self.now()
        items = [
            rules.enqueue(spec.name, c.call_id, c.reason, now, actor.id, position)
            for position, c in enumerate(picked.candidates)
        ]
        queue = ReviewQueueConfigured(
            name=spec.name, description=spec.description, source=spec.source, params=spec.params, labels=spec.labels,
            reviews_per_item=spec.reviews_per_item, lock_ttl_s=spec.lock_ttl_s, item_count=len(items), updated_at=now,
        )  # fmt: skip
        async with self._lock(tenant, spec.name):
            self._check_new(tenant, spec)
            events = [*(self._wrap(tenant, item, actor.id) for item in items), self._wrap(tenant, queue, actor.id)]
            try:
                await self._audit.publish_with(
                    tenant, actor, action="review_queue.create", resource=("review_queue", spec.name),
                    details={"source": spec.source, "items": len(items)}, events=events,
                )  # fmt: skip
            except UNAVAILABLE:
                raise ReviewRefused(503, "kafka_unavailable", "Kafka did not acknowledge the queue; create it again",
                                    self._limits.retry_after_s) from None  # fmt: skip
            for item in items:
                self.state.put_item(tenant, item)
            self.state.put_queue(tenant, queue)
        REVIEW_ITEMS.labels("enqueued").inc(len(items))
        return queue, picked

    def _lock(self, tenant: str, queue: str) -> asyncio.Lock:
        return self._locks.setdefault((tenant, queue), asyncio.Lock())

    async def _change(
        self,
        tenant: str,
        item: ReviewItemUpdated,
        audit: ItemAudit | None,
        extra: Sequence[CloudEvent[Any]] = (),
    ) -> None:
        if audit is not None:
            await audit(item, "success")  # before the change: refused here, nothing is published
        try:
            await self._publish([self._wrap(tenant, item, item.actor or ""), *extra])
        except Exception:
            if audit is not None:
                with contextlib.suppress(Exception):  # the change's own error is the answer either way
                    await audit(item, "failure")
            raise
        self.state.put_item(tenant, item)
        REVIEW_ITEMS.labels(item.action).inc()

    async def next_item(
        self, tenant: str, queue: str, reviewer: str, audit: ItemAudit | None = None
    ) -> ReviewItemUpdated | None:
        """Claim the first item ``reviewer`` may review (None: nothing left for them)."""
        config = self.queue(tenant, queue)
        async with self._lock(tenant, queue):
            now = self.now()
            free = next(
                (i for i in self.state.items(tenant, queue).values() if rules.can_claim(i, reviewer, now)), None
            )
            if free is None:
                return None
            claimed = rules.claim(free, reviewer, now, timedelta(seconds=config.lock_ttl_s))
            await self._change(tenant, claimed, audit)
            return claimed

    async def claim(
        self, tenant: str, queue: str, item_id: str, reviewer: str, audit: ItemAudit | None = None
    ) -> ReviewItemUpdated:
        config = self.queue(tenant, queue)
        async with self._lock(tenant, queue):
            item = self.item(tenant, queue, item_id)
            claimed = rules.claim(item, reviewer, self.now(), timedelta(seconds=config.lock_ttl_s))
            await self._change(tenant, claimed, audit)
            return claimed

    async def release(
        self, tenant: str, queue: str, item_id: str, reviewer: str, audit: ItemAudit | None = None
    ) -> ReviewItemUpdated:
        async with self._lock(tenant, queue):
            released = rules.release(self.item(tenant, queue, item_id), reviewer, self.now())
            await self._change(tenant, released, audit)
            return released

    async def assign(
        self, tenant: str, queue: str, item_id: str, assignee: str | None, actor: str, audit: ItemAudit | None = None
    ) -> ReviewItemUpdated:
        async with self._lock(tenant, queue):
            assigned = rules.assign(self.item(tenant, queue, item_id), assignee, self.now(), actor)
            await self._change(tenant, assigned, audit)
            return assigned

    async def review(
        self, tenant: str, queue: str, item_id: str, given: Review, audit: ItemAudit | None = None
    ) -> ReviewItemUpdated:
        """Record ``given`` (its reviewer must hold the item's lock) and publish it as feedback too."""
        config = self.queue(tenant, queue)
        async with self._lock(tenant, queue):
            reviewed = rules.review(self.item(tenant, queue, item_id), given, config, self.now())
            feedback = review_feedback(tenant, reviewed, given, source=self._source)
            await self._change(tenant, reviewed, audit, feedback)
        REVIEWS.inc()
        return reviewed
