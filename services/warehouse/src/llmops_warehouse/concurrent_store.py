"""Async access to a synchronous :class:`~llmops_warehouse.ports.EventStore`, reads beside writes.

clickhouse-connect's client is synchronous, so the store runs on worker threads: one writer thread (the
consumer's inserts, in order) and a pool of reader threads (queries). A slow query therefore never holds
up an insert, and an insert never holds up a query; each query carries a server-side time limit (the
store's ``max_execution_time``).

Failures are classed for the consumer loop: ClickHouse unreachable, or a server error whose code says
"try again" (too many parts, memory limit, read-only replica, ...), becomes :class:`TransientError`, so the
loop backs off and re-reads the batch instead of dead-lettering good events.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from llmops_kit.errors import TransientError

from llmops_warehouse.call_events import CallEvent
from llmops_warehouse.events import EventPage, EventQuery, StoredEvent
from llmops_warehouse.models import (
    CallPage,
    CallQuery,
    CallRow,
    MetricsQuery,
    QueryTimeoutError,
    SummaryRow,
    TimeseriesPoint,
    TimeseriesQuery,
)
from llmops_warehouse.ports import EventStore

__all__ = ["TRANSIENT_ERROR_CODES", "ConcurrentEventStore", "error_code"]

T = TypeVar("T")

TRANSIENT_ERROR_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        225,  # NO_ZOOKEEPER
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        279,  # ALL_CONNECTION_TRIES_FAILED
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        999,  # KEEPER_EXCEPTION
    }
)
"""ClickHouse error codes that say the server cannot take the write now, not that the data is bad."""
_TIMEOUT_EXCEEDED = 159
_CODE_RE = re.compile(r"\bCode:\s*(\d+)")


def _is_about_the_batch(exc: DatabaseError) -> bool:
    """TOO_MANY_PARTS for one insert block is about the batch itself: retrying it would never end."""
    return "for single INSERT block" in str(exc)


def error_code(exc: DatabaseError) -> int | None:
    """The ClickHouse error code of ``exc`` (from the driver, else from the message), or None."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None


class ConcurrentEventStore:
    """The :class:`~llmops_warehouse.ports.AsyncEventStore` over an :class:`EventStore`."""

    def __init__(self, store: EventStore, *, read_workers: int = 8) -> None:
        self._store = store
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-write")
        self._readers = ThreadPoolExecutor(max_workers=read_workers, thread_name_prefix="clickhouse-read")

    async def _write(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer, fn)
        except (OperationalError, ConnectionError, TimeoutError) as exc:
            raise TransientError(f"ClickHouse unavailable: {exc}") from exc
        except DatabaseError as exc:
            if error_code(exc) in TRANSIENT_ERROR_CODES and not _is_about_the_batch(exc):
                raise TransientError(f"ClickHouse cannot take the write now: {exc}") from exc
            raise

    async def _read(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._readers, fn)
        except (OperationalError, ConnectionError, TimeoutError) as exc:
            raise TransientError(f"ClickHouse unavailable: {exc}") from exc
        except DatabaseError as exc:
            if error_code(exc) == _TIMEOUT_EXCEEDED:
                raise QueryTimeoutError("the query ran past its time limit: narrow the time range or filters") from exc
            if error_code(exc) in TRANSIENT_ERROR_CODES:
                raise TransientError(f"ClickHouse cannot answer now: {exc}") from exc
            raise

    async def run_write(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the writer thread, in turn with the inserts (the erasure's statements)."""
        return await self._write(fn)

    async def run_read(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a reader thread."""
        return await self._read(fn)

    async def insert_calls(self, events: Sequence[CallEvent]) -> int:
        return await self._write(lambda: self._store.insert_calls(events))

    async def insert_events(self, events: Sequence[StoredEvent]) -> int:
        return await self._write(lambda: self._store.insert_events(events))

    async def read_events(self, q: EventQuery) -> EventPage:
        return await self._read(lambda: self._store.read_events(q))

    async def list_calls(self, q: CallQuery) -> CallPage:
        return await self._read(lambda: self._store.list_calls(q))

    async def get_call(self, tenant_id: str, call_id: str) -> CallRow | None:
        return await self._read(lambda: self._store.get_call(tenant_id, call_id))

    async def summary(self, q: MetricsQuery) -> list[SummaryRow]:
        return await self._read(lambda: self._store.summary(q))

    async def timeseries(self, q: TimeseriesQuery) -> list[TimeseriesPoint]:
        return await self._read(lambda: self._store.timeseries(q))

    async def ping(self) -> bool:
        try:
            return await self._read(self._store.ping)
        except Exception:
            return False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """Finish what runs (after the consumer has drained) and release the threads."""
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
