"""How the async store classes ClickHouse failures: transient server errors never reach the DLQ path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from llmops_kit.errors import TransientError
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.concurrent_store import ConcurrentEventStore, error_code
from llmops_warehouse.models import CallQuery, QueryTimeoutError

from tests.unit.warehouse.call_store_contract import make_event, new_tenant


class RefusesOnce(InMemoryEventStore):
    """Raises ``error`` from the first insert and the first read, then behaves."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error: Exception | None = error
        self.read_error: Exception | None = error

    def insert_calls(self, events: Sequence[Any]) -> int:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return super().insert_calls(events)

    def list_calls(self, q: CallQuery) -> Any:
        if self.read_error is not None:
            error, self.read_error = self.read_error, None
            raise error
        return super().list_calls(q)


@pytest.mark.parametrize(
    "message",
    [
        "Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS)",
        "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)",
        "Code: 242. DB::Exception: Table is in readonly mode. (TABLE_IS_READ_ONLY)",
    ],
)
async def test_a_transient_server_error_on_insert_is_a_transient_error(message: str) -> None:
    store = ConcurrentEventStore(RefusesOnce(DatabaseError(message)))
    event = make_event(new_tenant())
    with pytest.raises(TransientError):
        await store.insert_calls([event])
    assert await store.insert_calls([event]) == 1  # the retry stores it
    await store.stop()


async def test_a_server_error_about_the_data_stays_what_it_is() -> None:
    # The consumer loop isolates and dead-letters what keeps failing for reasons other than the server's state.
    store = ConcurrentEventStore(RefusesOnce(DatabaseError("Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)")))
    with pytest.raises(DatabaseError):
        await store.insert_calls([make_event(new_tenant())])
    await store.stop()


async def test_too_many_partitions_for_one_insert_block_is_about_the_batch_not_the_server() -> None:
    # Retrying the same batch would fail the same way forever (the store also lifts the limit on its inserts).
    message = "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). (TOO_MANY_PARTS)"
    store = ConcurrentEventStore(RefusesOnce(DatabaseError(message)))
    with pytest.raises(DatabaseError):
        await store.insert_calls([make_event(new_tenant())])
    await store.stop()


async def test_an_unreachable_server_is_a_transient_error() -> None:
    store = ConcurrentEventStore(RefusesOnce(OperationalError("connection refused")))
    with pytest.raises(TransientError):
        await store.insert_calls([make_event(new_tenant())])
    await store.stop()


async def test_a_query_past_its_time_limit_is_a_query_timeout() -> None:
    error = DatabaseError("Code: 159. DB::Exception: Timeout exceeded: elapsed 10001 ms. (TIMEOUT_EXCEEDED)")
    store = ConcurrentEventStore(RefusesOnce(error))
    with pytest.raises(QueryTimeoutError):
        await store.list_calls(CallQuery(tenant_id=new_tenant()))
    await store.stop()


def test_the_error_code_comes_from_the_driver_or_the_message() -> None:
    assert error_code(DatabaseError("x", code=252)) == 252
    assert error_code(DatabaseError("Code: 241. DB::Exception: ...")) == 241
    assert error_code(DatabaseError("no code")) is None
