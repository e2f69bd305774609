"""The EventStore contract on the in-memory fake (the same suite runs on ClickHouse in tests/integration)."""

from __future__ import annotations

import pytest
from llmops_warehouse.adapters.memory_store import InMemoryEventStore, clickhouse_uuid_key, linear_quantiles

from tests.unit.warehouse.call_store_contract import EventStoreContract, make_event, new_tenant
from tests.unit.warehouse.call_v2_contract import CallV2StoreContract


class TestInMemoryEventStore(EventStoreContract, CallV2StoreContract):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore()


def test_ping_follows_the_health_switch() -> None:
    store = InMemoryEventStore()
    store.healthy = False
    assert store.ping() is False


def test_len_counts_stored_rows() -> None:
    store = InMemoryEventStore()
    tenant = new_tenant()
    event = make_event(tenant)
    store.insert_calls([event, event])
    assert len(store) == 1


def test_uuid_order_is_clickhouse_order() -> None:
    # ClickHouse compares a UUID's second 64-bit half first (verified on chDB in the integration suite).
    a = "00000000-0000-0005-0000-000000000003"
    b = "00000000-0000-0004-0000-000000000004"
    assert clickhouse_uuid_key(a) < clickhouse_uuid_key(b)


def test_linear_quantiles() -> None:
    assert linear_quantiles([float(i) for i in range(100)]) == pytest.approx([49.5, 94.05, 98.01])
    assert linear_quantiles([7.0]) == [7.0, 7.0, 7.0]
    assert all(v != v for v in linear_quantiles([]))  # NaN
