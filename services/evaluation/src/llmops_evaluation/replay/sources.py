"""Where a replay reads its calls: the warehouse's query API, or an offset range of ``llmops.calls.recorded``.

Both read one batch at a time and say where the next one starts (a warehouse cursor, or the next offset of
each partition): that position is the checkpoint. Neither touches production traffic: the warehouse is read
with the service key (tenant-scoped by the header), and the topic with a reader of its own, assigned its
partitions without a consumer group, so the online scorer's group and offsets are never involved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.messages import to_message
from llmops_kit.kafka.security import client_kwargs
from llmops_kit.platform_client import WarehouseReader
from llmops_kit.settings import KafkaSecurity
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import PartitionOffsets, ReplayCheckpointed
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.entrypoints.consumer import decode_call

__all__ = ["Batch", "CallSource", "TopicSource", "WarehouseSource", "call_of_row", "end_offsets"]

log = logging.getLogger(__name__)

WAREHOUSE_PAGE_LIMIT = 1000
"""The largest page ``GET /v1/calls`` serves: a warehouse replay's batch is one page."""
_CALL_FIELDS = frozenset(CallRecorded.model_fields)
"""What of a warehouse call row is the call event's payload (the row adds the envelope and v1's fields)."""


@dataclass(slots=True)
class Batch:
    """Calls of the replay's tenant, how many records were read for them, and where the next batch starts."""

    calls: list[CloudEvent[CallRecorded]]
    read: int
    cursor: str | None = None
    next_offsets: list[PartitionOffsets] = field(default_factory=list)


class CallSource(Protocol):
    """A replay's reader: batches until the range is exhausted (None)."""

    async def next_batch(self) -> Batch | None: ...

    async def close(self) -> None: ...


def call_of_row(row: dict[str, Any]) -> CloudEvent[CallRecorded]:
    """The call event a warehouse row (``GET /v1/calls`` item) was stored from."""
    data = CallRecorded.model_validate({k: v for k, v in row.items() if k in _CALL_FIELDS})
    return CloudEvent.wrap(
        data,
        source=row.get("source") or "/services/warehouse",
        tenant_id=row["tenant_id"],
        event_id=row["event_id"],
        subject=data.call_id,
        trace_id=data.trace_id,
    )


class WarehouseSource:
    """The tenant's calls started in ``[start, end)`` (and the replay's filters), newest first, a page a batch."""

    def __init__(self, reader: WarehouseReader, tenant: str, state: ReplayCheckpointed) -> None:
        self._reader = reader
        self._tenant = tenant
        self._cursor = state.cursor
        self._done = state.processed > 0 and state.cursor is None
        self._limit = min(state.batch_size, WAREHOUSE_PAGE_LIMIT)
        origin = "all" if state.include_platform else "application"
        filters = {"start": state.start, "end": state.end, "app": state.app, "model": state.model, "origin": origin}
        self._filters = {**filters, "prompt_name": state.prompt_name}

    async def next_batch(self) -> Batch | None:
        if self._done:
            return None
        rows, cursor = await self._reader.calls_page(
            self._tenant, cursor=self._cursor, limit=self._limit, **self._filters
        )
        self._cursor, self._done = cursor, cursor is None
        if not rows:
            return None
        return Batch(calls=[call_of_row(r) for r in rows], read=len(rows), cursor=cursor)

    async def close(self) -> None:
        """Nothing to release: the platform client belongs to the service."""


async def end_offsets(consumer: AIOKafkaConsumer, partitions: list[int]) -> dict[int, int]:
    """The current end (high watermark) of each of ``partitions`` of the calls topic."""
    tps = [TopicPartition(CallRecorded.topic, p) for p in partitions]
    ends = await consumer.end_offsets(tps)
    return {tp.partition: offset for tp, offset in ends.items()}


class TopicSource:
    """An offset range of ``llmops.calls.recorded``, read without a consumer group; the tenant's calls kept.

    Records of other tenants are read (they count in ``read``) but never judged; a record that is not a call
    event is skipped and logged, as the online scorer's dead-letter topic already holds it.
    """

    def __init__(
        self, bootstrap_servers: str, tenant: str, state: ReplayCheckpointed, *, security: KafkaSecurity | None = None
    ) -> None:
        self._tenant = tenant
        self._max = state.batch_size
        self._next = {r.partition: r.start for r in (state.next_offsets or state.ranges)}
        self._end = {r.partition: r.end for r in state.ranges}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="llmops-evaluation-replay",
            **client_kwargs(security),
        )
        self._started = False

    def _open(self) -> list[TopicPartition]:
        return [TopicPartition(CallRecorded.topic, p) for p, at in self._next.items() if at < self._end[p]]

    async def _start(self) -> None:
        await self._consumer.start()
        self._started = True
        open_partitions = self._open()
        self._consumer.assign(open_partitions)
        for tp in open_partitions:
            self._consumer.seek(tp, self._next[tp.partition])

    async def next_batch(self) -> Batch | None:
        if not self._started:
            await self._start()
        if not self._open():
            return None
        fetched = await self._consumer.getmany(timeout_ms=1000, max_records=self._max)
        calls: list[CloudEvent[CallRecorded]] = []
        read = 0
        for tp, records in fetched.items():
            for record in records:
                if record.offset >= self._end[tp.partition]:
                    break
                read += 1
                self._next[tp.partition] = record.offset + 1
                call = self._decode(record)
                if call is not None and call.tenant_id == self._tenant:
                    calls.append(call)
            await self._advance(tp)
        return Batch(calls=calls, read=read, next_offsets=self.positions())

    async def _advance(self, tp: TopicPartition) -> None:
        """Move past gaps (compacted or transaction markers) and stop reading a partition at its range's end."""
        position = await self._consumer.position(tp)
        self._next[tp.partition] = min(max(self._next[tp.partition], position), self._end[tp.partition])
        if self._next[tp.partition] >= self._end[tp.partition]:
            self._consumer.pause(tp)

    def _decode(self, record: Any) -> CloudEvent[CallRecorded] | None:
        try:
            return decode_call(to_message(record))
        except PermanentError:
            # The class of problem only: a validation message can quote the record (prompt text).
            log.warning("replay skips offset %s of partition %s: not a call event", record.offset, record.partition)
            return None

    def positions(self) -> list[PartitionOffsets]:
        """Where each partition continues (``start``) and ends."""
        return [PartitionOffsets(partition=p, start=at, end=self._end[p]) for p, at in sorted(self._next.items())]

    async def close(self) -> None:
        if self._started:
            await self._consumer.stop()
