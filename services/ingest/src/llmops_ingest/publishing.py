"""Publishing a batch of accepted records, and knowing exactly which of them Kafka acknowledged.

A publish that fails part-way can leave some records stored and others not. So that a client is told
exactly which records were accepted, the records go out in chunks of about one Kafka producer batch
(:data:`CHUNK_BYTES`), each its own ``publish_encoded`` call, and splitting at that size costs no extra round
trip. A chunk is reported accepted only once every record of it was acknowledged; one that failed is
reported not accepted although some of its records (a chunk can span producer batches) may have been
stored. Their event ids are deterministic, so a retry of them is deduplicated downstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from llmops_kit.kafka.producer import MAX_BATCH_BYTES
from llmops_kit.kafka.publisher import EventPublisher

from llmops_ingest.handlers import Accepted

__all__ = ["CHUNK_BYTES", "PublishOutcome", "publish_accepted"]

CHUNK_BYTES = MAX_BATCH_BYTES
"""Most bytes of events in one chunk (a record larger than this is a chunk of its own)."""


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """Which records Kafka acknowledged, which it did not (yet), and the first failure, if any."""

    acknowledged: list[Accepted]
    unacknowledged: list[Accepted]
    failure: BaseException | None = None


def chunks(accepted: Sequence[Accepted], limit: int = CHUNK_BYTES) -> list[list[Accepted]]:
    """``accepted`` in order, cut into runs of at most ``limit`` bytes of events each."""
    runs: list[list[Accepted]] = []
    size = limit
    for record in accepted:
        if size + len(record.value) > limit:
            runs.append([])
            size = 0
        runs[-1].append(record)
        size += len(record.value)
    return runs


async def _publish(publisher: EventPublisher, chunk: Sequence[Accepted]) -> None:
    await publisher.publish_encoded([a.event for a in chunk])


async def publish_accepted(
    publisher: EventPublisher, accepted: Sequence[Accepted], *, timeout_s: float, chunk_bytes: int = CHUNK_BYTES
) -> PublishOutcome:
    """Publish every chunk concurrently; wait at most ``timeout_s`` for the acknowledgements.

    A chunk still unacknowledged at the deadline is cancelled and reported with a :class:`TimeoutError`.
    """
    runs = chunks(accepted, chunk_bytes)
    tasks = [asyncio.ensure_future(_publish(publisher, run)) for run in runs]
    try:
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
    finally:
        # Also when this request is cancelled (the client went away): nothing keeps publishing unobserved.
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
    acknowledged: list[Accepted] = []
    unacknowledged: list[Accepted] = []
    failure: BaseException | None = None
    for run, task in zip(runs, tasks, strict=True):
        error = TimeoutError(f"not acknowledged within {timeout_s:g}s") if task.cancelled() else task.exception()
        (unacknowledged if error else acknowledged).extend(run)
        failure = failure or error
    return PublishOutcome(acknowledged, unacknowledged, failure)
