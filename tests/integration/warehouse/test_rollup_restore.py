"""An insert cut short between the ``calls`` part and the rollup's: the replay puts the rollup back (docs/adr/0064).

The cut is made for real: the rollup's materialized view is detached while the first insert runs, so ``calls``
holds the batch and ``calls_per_minute`` does not, which is what a warehouse killed between the two parts leaves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.migrations import apply_migrations

from tests.unit.warehouse.call_store_contract import BASE, make_event, new_tenant

pytestmark = pytest.mark.integration


@pytest.fixture
def store(chdb_client: Any, scratch_database: str) -> ClickHouseEventStore:
    apply_migrations(chdb_client, database=scratch_database)
    return ClickHouseEventStore(chdb_client, scratch_database)


def _calls(tenant: str) -> list[Any]:
    """Nine calls over two minutes and two models, with errors, missing usage and spread latencies."""
    return [
        make_event(
            tenant,
            started_at=BASE + timedelta(seconds=20 * i),
            model=("gpt-4o", "claude")[i % 2],
            status="error" if i % 3 == 0 else "ok",
            latency_ms=50.0 + 17 * i,
            usage=None if i == 4 else (10 + i, 5 + i),
        )
        for i in range(9)
    ]


def _rollup(store: ClickHouseEventStore, tenant: str) -> list[tuple[Any, ...]]:
    """Every aggregate of the tenant's rollup, key by key (without the tenant, to compare two tenants)."""
    return [
        tuple(row)
        for row in store.client.query(
            "SELECT minute, app, environment, model, origin, countMerge(calls), sumMerge(errors),"
            " sumMerge(prompt_tokens), sumMerge(completion_tokens), sumMerge(total_tokens),"
            f" quantilesMerge(0.5, 0.95, 0.99)(latency_ms) FROM {store.database}.calls_per_minute"
            " WHERE tenant_id = {t:String} GROUP BY minute, app, environment, model, origin"
            " ORDER BY minute, app, environment, model, origin",
            parameters={"t": tenant},
        ).result_rows
    ]


@contextmanager
def _rollup_view_detached(store: ClickHouseEventStore) -> Iterator[None]:
    store.client.command(f"DETACH TABLE {store.database}.calls_per_minute_mv")
    try:
        yield
    finally:
        store.client.command(f"ATTACH TABLE {store.database}.calls_per_minute_mv")


def _stored_normally(store: ClickHouseEventStore) -> list[tuple[Any, ...]]:
    reference = new_tenant()
    assert store.insert_calls(_calls(reference)) == 9
    expected = _rollup(store, reference)
    assert sum(row[5] for row in expected) == 9
    return expected


@pytest.mark.parametrize(
    "replays",
    [[slice(0, 9)], [slice(0, 3), slice(2, 9)], [slice(5, 6), slice(0, 9)]],
    ids=["one-batch", "two-batches", "one-call-first"],
)
def test_a_replayed_batch_puts_back_what_the_rollup_never_counted(
    store: ClickHouseEventStore, replays: Sequence[slice]
) -> None:
    expected = _stored_normally(store)
    tenant = new_tenant()
    calls = _calls(tenant)
    with _rollup_view_detached(store):
        assert store.insert_calls(calls[:6]) == 6
    assert _rollup(store, tenant) == []

    fresh = sum(store.insert_calls(calls[part]) for part in replays)

    assert fresh == 3
    assert _rollup(store, tenant) == expected


def test_a_redelivered_call_of_a_whole_insert_changes_nothing(store: ClickHouseEventStore) -> None:
    expected = _stored_normally(store)
    tenant = new_tenant()
    calls = _calls(tenant)
    assert store.insert_calls(calls) == 9

    assert store.insert_calls([calls[0], calls[7]]) == 0
    assert _rollup(store, tenant) == expected


def test_a_rollup_counting_calls_erased_since_is_left_alone(store: ClickHouseEventStore) -> None:
    """Erasure and retention delete calls and keep their counts: the rollup counting more is no damage."""
    expected = _stored_normally(store)
    tenant = new_tenant()
    calls = _calls(tenant)
    assert store.insert_calls(calls) == 9
    store.client.command(
        f"DELETE FROM {store.database}.calls WHERE tenant_id = {{t:String}} AND call_id = {{c:String}}",
        parameters={"t": tenant, "c": calls[3].data.call_id},
    )

    assert store.insert_calls([calls[5]]) == 0  # the erased call's rollup key (second minute, the other model)
    assert _rollup(store, tenant) == expected
