"""Publishing in chunks of about one producer batch, and telling which chunks Kafka acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from llmops_ingest.handlers import Accepted, IngestContext, prepare_record
from llmops_ingest.publishing import chunks, publish_accepted
from llmops_kit.kafka.publisher import EncodedEvent, InMemoryPublisher

from tests.unit.ingest.fakes import Hook, HookedPublisher, call_ids

MakeCall = Callable[..., dict[str, Any]]


def prepared(make_call: MakeCall, context: IngestContext, n: int) -> list[Accepted]:
    records = [prepare_record(make_call(call_id=f"c-{i}"), i, context) for i in range(n)]
    assert all(isinstance(r, Accepted) for r in records)
    return [r for r in records if isinstance(r, Accepted)]


def test_chunks_keep_the_order_and_stay_under_the_limit(make_call: MakeCall, context: IngestContext) -> None:
    records = prepared(make_call, context, 7)
    size = len(records[0].value)
    runs = chunks(records, limit=3 * size)
    assert [[r.index for r in run] for run in runs] == [[0, 1, 2], [3, 4, 5], [6]]
    # A record larger than the limit goes alone rather than nowhere.
    assert [[r.index for r in run] for run in chunks(records[:2], limit=1)] == [[0], [1]]


def hang_on(call_id: str, cancelled: list[str]) -> Hook:
    """Before storing: never answer a publish that holds ``call_id``; note its cancellation."""

    async def before(batch: list[EncodedEvent]) -> None:
        if call_id in call_ids(batch):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(call_id)
                raise

    return before


async def test_a_chunk_unacknowledged_at_the_deadline_is_cancelled_and_reported(
    make_call: MakeCall, context: IngestContext
) -> None:
    records = prepared(make_call, context, 4)
    cancelled: list[str] = []
    publisher = InMemoryPublisher()
    hooked = HookedPublisher(publisher, before=hang_on("c-3", cancelled))
    outcome = await publish_accepted(hooked, records, timeout_s=0.1, chunk_bytes=2 * len(records[0].value))
    assert [r.index for r in outcome.acknowledged] == [0, 1]
    assert [r.index for r in outcome.unacknowledged] == [2, 3]
    assert isinstance(outcome.failure, TimeoutError)
    assert cancelled == ["c-3"]
    assert [e.subject for e in publisher.events] == ["c-0", "c-1"]
