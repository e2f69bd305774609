"""A drift worker's consumer group that starts at the end of the calls topic, whatever the session put there.

The worker reads ``llmops.calls.recorded`` from the earliest offset for a group without committed offsets (the
product's behaviour, docs/drift.md), and in a whole-suite session that topic holds every earlier test's calls:
folding them took longer than the tests wait. Committing the group's offsets at the topic's end before the
worker starts makes it fold only what the test publishes after, and through the same path a restarted worker
takes (resuming from committed offsets).
"""

from __future__ import annotations

from aiokafka import TopicPartition
from llmops_schemas.v2 import CallRecorded

from tests.fixtures.kafka import commit_group_offsets
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets

__all__ = ["start_group_at_the_end"]


async def start_group_at_the_end(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """Commit ``group``'s offset on every partition of the calls topic at its end; the offsets committed."""
    ends = await _end_offsets(bootstrap, CallRecorded.topic)
    await commit_group_offsets(bootstrap, group, ends)
    return ends
