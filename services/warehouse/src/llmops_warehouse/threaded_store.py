"""Async access to a synchronous :class:`CallStore` from the event loop.

clickhouse-connect's client is synchronous (and the embedded chDB engine is one per process), so every
store call runs on one dedicated worker thread: the event loop never blocks, and the client is never used
from two threads at once. Failures to reach ClickHouse become :class:`TransientError`, so the consumer
loop waits and re-reads instead of dead-lettering good events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from clickhouse_connect.driver.exceptions import OperationalError
from llmops_kit.errors import TransientError
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.calls import CallRecorded

from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    MetricsQuery,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)
from llmops_warehouse.ports import CallStore

__all__ = ["ThreadedCallStore"]

T = TypeVar("T")


class ThreadedCallStore:
    """The async face of a :class:`CallStore`; one worker thread owns the client."""

    def __init__(self, store: CallStore) -> None:
        self._store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except (OperationalError, ConnectionError, TimeoutError) as exc:
            raise TransientError(f"ClickHouse unavailable: {exc}") from exc

    async def insert_calls(self, events: Sequence[CloudEvent[CallRecorded]]) -> int:
        return await self._run(lambda: self._store.insert_calls(events))

    async def list_calls(self, query: CallQuery) -> CallPage:
        return await self._run(lambda: self._store.list_calls(query))

    async def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        return await self._run(lambda: self._store.get_call(tenant_id, call_id))

    async def summary(self, query: MetricsQuery) -> list[SummaryRow]:
        return await self._run(lambda: self._store.summary(query))

    async def timeseries(self, query: TimeseriesQuery) -> list[TimeseriesPoint]:
        return await self._run(lambda: self._store.timeseries(query))

    async def ping(self) -> bool:
        try:
            return await self._run(self._store.ping)
        except Exception:
            return False

    def close(self) -> None:
        self._executor.shutdown(wait=True)
