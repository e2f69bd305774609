"""Retention per tenant on real chDB: expired rows are physically deleted by the TTL, other tenants' rows stay.

"Physically" is asked of ClickHouse itself: ``OPTIMIZE ... FINAL`` runs the TTL merge the background would run
within ``merge_with_ttl_timeout``, and the test waits for the condition (no sleeps), then reads the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.examples import example_data
from llmops_schemas.v2 import FeedbackReceived
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.migrations import apply_migrations
from llmops_warehouse.retention.expiry import Retention
from llmops_warehouse.retention.restamp import Restamper

from tests.unit.warehouse.call_store_contract import make_event, new_tenant, score_event
from tests.unit.warehouse.retention_policies import materialised, retention_policy

pytestmark = pytest.mark.integration

OLD = datetime.now(UTC) - timedelta(days=3)
RECENT = datetime.now(UTC) - timedelta(minutes=5)


def feedback_event(tenant_id: str, at: datetime) -> StoredEvent:
    payload = FeedbackReceived.model_validate(example_data(FeedbackReceived))
    event = CloudEvent.wrap(payload, source="//llmops/feedback", tenant_id=tenant_id)
    return StoredEvent.of("feedback", event.model_copy(update={"time": at}))


def count(client: Any, database: str, table: str, tenant: str) -> int:
    sql = f"SELECT count() FROM {database}.{table} WHERE tenant_id = {{t:String}}"
    return int(client.query(sql, parameters={"t": tenant}).result_rows[0][0])


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` (each poll may run ClickHouse work, e.g. a TTL merge) until true, or fail naming it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")


def ttl_merged(client: Any, database: str, table: str, tenant: str, expected: int) -> Callable[[], bool]:
    """Run the TTL merge of ``table`` and tell whether ``tenant`` has ``expected`` rows left."""

    def check() -> bool:
        client.command(f"OPTIMIZE TABLE {database}.{table} FINAL")
        return count(client, database, table, tenant) == expected

    return check


@pytest.fixture
def database(chdb_client: Any, scratch_database: str) -> str:
    apply_migrations(chdb_client, database=scratch_database)
    return scratch_database


def test_a_tenant_s_short_retention_deletes_its_expired_rows_and_nobody_else_s(chdb_client: Any, database: str) -> None:
    short, other = new_tenant(), new_tenant()
    policies = materialised(*(retention_policy(short, dataset, 1) for dataset in ("calls", "evaluations", "feedback")))
    store = ClickHouseEventStore(chdb_client, database, retention=Retention(policies))
    for tenant in (short, other):
        store.insert_calls([make_event(tenant, started_at=OLD), make_event(tenant, started_at=RECENT)])
        store.insert_events([score_event(tenant, at=OLD), score_event(tenant, at=RECENT)])  # the passes' columns
        store.insert_events([feedback_event(tenant, OLD), feedback_event(tenant, RECENT)])  # the generic rows

    for table in ("calls", "evaluation_scores", "feedback"):
        wait_for(ttl_merged(chdb_client, database, table, short, 1), f"{table}: the short tenant's old row deleted")
        assert count(chdb_client, database, table, other) == 2, f"{table}: another tenant's rows were touched"


def test_rows_stored_without_a_stamp_keep_the_table_s_former_ttl(chdb_client: Any, database: str) -> None:
    tenant = new_tenant()
    ClickHouseEventStore(chdb_client, database).insert_calls([make_event(tenant, started_at=RECENT)])
    sql = f"SELECT dateDiff('day', started_at, expires_at) FROM {database}.calls WHERE tenant_id = {{t:String}}"
    assert chdb_client.query(sql, parameters={"t": tenant}).result_rows == [(90,)]


def test_a_shortened_retention_re_stamps_stored_rows_a_bounded_number_per_run(chdb_client: Any, database: str) -> None:
    changed, other = new_tenant(), new_tenant()
    policies = materialised()
    retention = Retention(policies)
    store = ClickHouseEventStore(chdb_client, database, retention=retention)
    for tenant in (changed, other):
        store.insert_calls([make_event(tenant, started_at=OLD)])
        store.insert_events([score_event(tenant, at=OLD)])
    restamper = Restamper(lambda: chdb_client, database, retention, {}, interval_s=60, per_run=1)
    assert restamper.run_once() == []

    policies.apply(retention_policy(changed, "calls", 1))
    policies.apply(retention_policy(changed, "evaluations", 1))
    assert restamper.run_once() == [(changed, "calls", 1)]  # one mutation per run
    assert restamper.run_once() == [(changed, "evaluation_scores", 1)]
    assert restamper.run_once() == [(changed, "runs", 1)]
    assert restamper.run_once() == []
    for table in ("calls", "evaluation_scores"):
        wait_for(ttl_merged(chdb_client, database, table, changed, 0), f"{table}: re-stamped rows deleted")
        assert count(chdb_client, database, table, other) == 1

    # A restart re-reads what was stamped: nothing is due again.
    again = Restamper(lambda: chdb_client, database, retention, {}, interval_s=60, per_run=10)
    assert again.run_once() == []
