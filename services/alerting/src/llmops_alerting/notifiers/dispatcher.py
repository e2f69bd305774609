"""The outbox's delivery: one worker per notifier, each retrying with backoff and jitter, none blocking another.

Every alert change owed to a notifier is a record of ``llmops.alerting.outbox`` (written with the change, before
any call). A worker per (tenant, notifier) delivers its records in batches per group (a rule's changes with one
group key), timed as Alertmanager's ``group_wait`` and ``group_interval`` (:mod:`.grouping`), oldest first, one
batch at a time (a resolve never overtakes its trigger), retrying a retryable failure without end with
exponential backoff and full jitter (``tenacity``), at least the receiver's ``Retry-After``; a notifier that
is down only holds its own records.
Once the notifier accepted a record, its tombstone removes it from the outbox (written in batches by one
background task, so a worker never waits for Kafka between two calls); a restart re-reads what is still owed
and delivers it (at least once: PagerDuty deduplicates on ``dedup_key``, webhooks carry the id).
A failure that cannot succeed (a 4xx, a blocked address, a notifier deleted since) closes the record, counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.v1 import NotifierConfigured
from llmops_schemas.v2 import NotificationQueued
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never, wait_random_exponential

from llmops_alerting.metrics import NOTIFICATIONS, NOTIFICATIONS_OWED, NOTIFY_LATENCY
from llmops_alerting.notifiers.grouping import Batch, Groups, Timing
from llmops_alerting.notifiers.sender import DeliveryFailed, Sender
from llmops_alerting.ports import OutboxCloser
from llmops_alerting.state import ConfigStore, Outbox

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryFailed) and exc.retryable


class Dispatcher:
    """Delivers the outbox; a lifespan component (``start`` once the outbox and configuration are loaded)."""

    def __init__(
        self,
        outbox: Outbox,
        config: ConfigStore,
        sender: Sender,
        closer: OutboxCloser,
        *,
        max_backoff_s: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timing: Timing = Timing(),
        max_batch: int = 20,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._outbox = outbox
        self._config = config
        self._sender = sender
        self._closer = closer
        self._backoff = wait_random_exponential(multiplier=0.5, max=max_backoff_s)
        self._sleep = sleep
        self._timing_default = timing
        self._max_batch = max_batch
        self._clock = clock
        self._groups: dict[tuple[str, str], Groups] = {}
        self._wake: dict[tuple[str, str], asyncio.Event] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._running = False
        self._closing: list[str] = []
        self._close_wake = asyncio.Event()
        self._closer_task: asyncio.Task[None] | None = None
        outbox.listener = self._on_new

    async def start(self) -> None:
        """Start a worker for every notifier something is owed to."""
        self._running = True
        self._closer_task = asyncio.create_task(self._close_delivered(), name="outbox-tombstones")
        for tenant, item in list(self._outbox.pending.values()):
            self._on_new("", tenant, item)

    async def stop(self) -> None:
        """Stop delivering; tombstones not yet written are lost (those records are delivered again later)."""
        self._running = False
        await cancel_and_wait([*self._workers.values(), self._closer_task])
        self._workers.clear()

    def _on_new(self, _key: str, tenant: str, item: NotificationQueued) -> None:
        NOTIFICATIONS_OWED.set(len(self._outbox.pending))
        if not self._running:
            return
        lane = (tenant, item.notifier_id)
        self._wake.setdefault(lane, asyncio.Event()).set()
        worker = self._workers.get(lane)
        if worker is None or worker.done():
            self._workers[lane] = asyncio.create_task(self._work(lane), name=f"notify-{item.notifier_id}")

    def _owed(self, lane: tuple[str, str]) -> list[tuple[str, NotificationQueued]]:
        return [(k, i) for k, (t, i) in self._outbox.pending.items() if (t, i.notifier_id) == lane]

    def _timing(self, notifier: NotifierConfigured | None) -> Timing:
        if notifier is None:
            return Timing()  # deleted since: its records are closed at once
        wait, interval = notifier.group_wait_s, notifier.group_interval_s
        return Timing(
            self._timing_default.wait if wait is None else timedelta(seconds=wait),
            self._timing_default.interval if interval is None else timedelta(seconds=interval),
        )

    async def _work(self, lane: tuple[str, str]) -> None:
        wake = self._wake[lane]
        groups = self._groups.setdefault(lane, Groups(self._max_batch))
        while True:
            notifier: NotifierConfigured | None = self._config.get(lane[0], "notifier", lane[1])
            batch, next_due = groups.plan(self._owed(lane), self._clock(), self._timing(notifier))
            if batch is None:
                wake.clear()
                pause = None if next_due is None else max(0.0, (next_due - self._clock()).total_seconds())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), pause)
                continue
            await self._deliver(lane[0], notifier, batch)
            groups.notified(batch, self._clock())

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        hinted = exc.retry_after_s if isinstance(exc, DeliveryFailed) and exc.retry_after_s else 0.0
        return max(backoff, hinted)

    async def _deliver(self, tenant: str, notifier: NotifierConfigured | None, batch: Batch) -> None:
        """Send a group's batch: one Slack message for the whole batch, one call per change to the others
        (PagerDuty threads by dedup key, a webhook deduplicates by notification id), each record closed as soon
        as its call is done (a later change that hangs does not hold back the tombstones of earlier ones)."""
        items = [item for _, item in batch.items]
        if notifier is None:
            for key, item in batch.items:
                self._close(key, item, "unknown", "dropped")
        elif notifier.kind == "slack" and len(items) > 1:
            outcome = await self._attempts(notifier, items, lambda: self._sender.send_group(tenant, notifier, items))
            for key, item in batch.items:
                self._close(key, item, notifier.kind, outcome)
        else:
            for key, item in batch.items:
                outcome = await self._attempts(notifier, [item], partial(self._sender.send, tenant, notifier, item))
                self._close(key, item, notifier.kind, outcome)

    def _close(self, key: str, item: NotificationQueued, kind: str, outcome: str) -> None:
        NOTIFICATIONS.labels(kind, outcome).inc()
        if outcome == "delivered":
            NOTIFY_LATENCY.observe(max(0.0, (datetime.now(UTC) - item.queued_at).total_seconds()))
        self._outbox.close(key)
        NOTIFICATIONS_OWED.set(len(self._outbox.pending))
        self._closing.append(key)
        self._close_wake.set()

    async def _attempts(
        self, notifier: NotifierConfigured, items: list[NotificationQueued], send: Callable[[], Awaitable[None]]
    ) -> str:
        retrying = AsyncRetrying(
            wait=self._wait, retry=retry_if_exception(_retryable), stop=stop_never, sleep=self._sleep, reraise=True
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await send()
        except DeliveryFailed as exc:
            alerts = ", ".join(i.alert.alert_id for i in items)
            log.warning("notifier %s refused alerts %s for good: %s", notifier.notifier_id, alerts, exc)
            return "refused"
        return "delivered"

    async def _close_delivered(self) -> None:
        """Write the tombstones of what was delivered, in batches, retrying (until one is written, a restart
        would deliver that record again)."""
        while True:
            await self._close_wake.wait()
            self._close_wake.clear()
            keys, self._closing = self._closing, []
            retrying = AsyncRetrying(wait=self._backoff, stop=stop_never, sleep=self._sleep, reraise=True)
            async for attempt in retrying:
                with attempt:
                    await self._closer.close(Outbox.topic, keys)
