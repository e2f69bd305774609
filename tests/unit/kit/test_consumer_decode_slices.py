"""A large batch is decoded in slices, yielding to the event loop between them (docs/adr/0022): a warehouse
filling 20,000-event batches would otherwise hold its loop, and so its HTTP answers, for the whole decoding."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from llmops_kit.kafka.consumer import ConsumerLoop


def _records(count: int) -> list[ConsumerRecord[bytes, bytes]]:
    return [ConsumerRecord("t", 0, i, 0, 0, None, b"v", None, 1, 1, []) for i in range(count)]


async def test_other_tasks_run_while_a_large_batch_is_decoded() -> None:
    turns = 0
    seen: list[int] = []

    def decode(message: Any) -> int:
        seen.append(turns)
        return int(message.offset)

    async def handle(deliveries: Any) -> None:
        return None

    loop: ConsumerLoop[int] = ConsumerLoop(
        bootstrap_servers="127.0.0.1:1",
        group_id="g",
        topics=["t"],
        decode=decode,
        handle=handle,
        dead_letters=None,  # type: ignore[arg-type]
        service="test",
        max_batch=5_000,
        max_wait_ms=1,
    )

    async def getmany(**_: Any) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        return {TopicPartition("t", 0): _records(5_000)}

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    loop._consumer.getmany = getmany  # type: ignore[method-assign]
    task = asyncio.create_task(ticker())
    try:
        batch = await loop._read_batch()
    finally:
        task.cancel()
        await loop._consumer.stop()
    assert len(batch.deliveries) == 5_000
    assert len(set(seen)) >= 5  # the ticker ran between the slices of 1,000
