"""How far a consumer group is behind a topic, asked without joining the group (the e2e checks wait on it)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def _behind(bootstrap: str, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (meta,) = await admin.describe_topics([topic])
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    done = {tp: max(0, entry.offset) for tp, entry in committed.items()}
    return sum(end - done.get(tp, 0) for tp, end in ends.items())


def wait_until_committed(bootstrap: str, group: str, topic: str, timeout_s: float) -> None:
    """Return once ``group`` has committed every record of ``topic`` (its side effects are all done then)."""
    deadline = time.monotonic() + timeout_s
    behind = asyncio.run(_behind(bootstrap, group, topic))
    while behind > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        behind = asyncio.run(_behind(bootstrap, group, topic))
    assert behind == 0, f"consumer group {group} is still {behind} records behind {topic} after {timeout_s:g}s"
