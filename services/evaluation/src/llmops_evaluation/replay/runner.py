"""One replay, batch by batch: read, wait for the rate limit, judge and publish the scores, then checkpoint.

The checkpoint goes out only after Kafka acknowledged the batch's scores, so a replica killed at any point
resumes from a position whose scores are all published: it judges again at most the batch in flight (whose
scores keep their ids, so the warehouse keeps them once). Transient failures (the warehouse or Kafka
unreachable) are retried with a growing pause, the replay staying ``running``; anything else fails it with
the reason recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka.errors import KafkaError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import PlatformCallError
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import ReplayCheckpointed
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.handlers import ScoringRules, score_calls
from llmops_evaluation.metrics import REPLAY_CALLS
from llmops_evaluation.replay.sources import Batch, CallSource

__all__ = ["RateLimit", "ReplayEvaluators", "run_replay"]

log = logging.getLogger(__name__)

Checkpoint = Callable[[ReplayCheckpointed], Awaitable[None]]
_MAX_PAUSE_S = 30.0


class RateLimit:
    """At most ``per_s`` calls a second on average: each batch waits until its share of time has passed."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / per_s
        self._clock = clock
        self._next = clock()

    async def take(self, calls: int) -> None:
        """Wait until ``calls`` more calls are within the rate."""
        now = self._clock()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(self._next, now) + calls * self._interval


@dataclass(frozen=True, slots=True)
class ReplayEvaluators:
    """The replay's evaluators as the scorer's lookup: every call of the source that succeeded, and is of
    application origin unless the replay includes the platform's."""

    evaluators: list[Evaluator]
    include_platform: bool = False

    @property
    def caught_up(self) -> bool:
        return True

    def for_call(self, tenant: str, call: CallRecorded) -> list[Evaluator]:
        if call.origin == "platform" and not self.include_platform:
            return []
        return self.evaluators


async def run_replay(
    tenant: str,
    state: ReplayCheckpointed,
    source: CallSource,
    lookup: ReplayEvaluators,
    out: EventPublisher,
    rules: ScoringRules,
    checkpoint: Checkpoint,
) -> ReplayCheckpointed:
    """Run ``state`` to its end (or until cancelled) from its checkpoint; returns the last state published.

    The next batch is read while this one is judged and published (at most two batches in memory): the
    warehouse's query and the judging overlap instead of taking turns.
    """
    limit = RateLimit(state.rate_limit_per_s)
    pause = 0.5
    batch: Batch | None = None  # read but not yet checkpointed: a failure retries this one, never skips it
    ahead: asyncio.Task[Batch | None] | None = None
    try:
        while True:
            try:
                if batch is None:
                    reading, ahead = ahead or asyncio.create_task(source.next_batch()), None
                    batch = await reading
                    if batch is None:
                        state = _advanced(state, rules.clock(), status="completed")
                        await checkpoint(state)
                        return state
                    await limit.take(len(batch.calls))
                    ahead = asyncio.create_task(source.next_batch())
                judged = await _judge(tenant, batch.calls, lookup, out, rules)
                state = _advanced(state, rules.clock(), batch=batch, judged=judged)
                if batch.read:
                    await checkpoint(state)
                batch, pause = None, 0.5
            except (PlatformCallError, KafkaError, OSError) as exc:
                if isinstance(exc, PlatformCallError) and not exc.retryable:
                    state = _advanced(state, rules.clock(), status="failed", error=str(exc)[:1024])
                    await checkpoint(state)
                    return state
                log.warning("replay %s paused %.1fs: %s", state.replay_id, pause, type(exc).__name__)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _MAX_PAUSE_S)
    finally:
        if ahead is not None:
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead


async def _judge(
    tenant: str,
    calls: list[CloudEvent[CallRecorded]],
    lookup: ReplayEvaluators,
    out: EventPublisher,
    rules: ScoringRules,
) -> int:
    """Judge and publish ``calls`` (acknowledged when this returns); returns how many calls were judged."""
    judged = sum(1 for c in calls if c.data.status == "ok" and lookup.for_call(tenant, c.data))
    await score_calls(calls, lookup, out, rules)
    REPLAY_CALLS.labels("judged").inc(judged)
    REPLAY_CALLS.labels("skipped").inc(len(calls) - judged)
    return judged


def _advanced(
    state: ReplayCheckpointed,
    now: datetime,
    *,
    batch: Batch | None = None,
    judged: int = 0,
    status: str = "running",
    error: str | None = None,
) -> ReplayCheckpointed:
    update: dict[str, object] = {"status": status, "updated_at": now, "error": error}
    if batch is not None:
        update |= {
            "processed": state.processed + batch.read,
            "scored": state.scored + judged,
            "cursor": batch.cursor,
            "next_offsets": batch.next_offsets,
        }
    return state.model_copy(update=update)
