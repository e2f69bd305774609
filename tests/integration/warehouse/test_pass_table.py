"""Evaluation passes in ``evaluation_scores`` on chDB: the item columns, the generic read, and rows stored before
migration 0012 (docs/adr/0032).

* A pass stored by the consumer's fast path (the derived struct) or as a pydantic event reads back through the
  generic read as the in-memory store returns it (the document the read always returned), and its item columns
  hold what :func:`~llmops_warehouse.pass_columns.pass_values` built; a redelivery writes nothing.
* The columns answer the reads they are for: per app and metric over time, per replay.
* Rows written by the generic insert before 0012 (a v2 pass, and a v1 score stored before v2 existed) get the
  same item columns from their payload once 0012 is applied, and still read back as before.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.evaluation import EvaluationScored as EvaluationScoredV1
from llmops_schemas.v1.examples import example
from llmops_schemas.v2 import EvaluationScored
from llmops_warehouse.adapters.clickhouse_sql import event_columns, event_values
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.entrypoints.consumer import Router
from llmops_warehouse.events import EventQuery, StoredEvent
from llmops_warehouse.migrations import apply_migrations, default_migrations_dir
from llmops_warehouse.pass_columns import PASS_COLUMNS, PASS_INSERT_COLUMNS, SCORES_TABLE, pass_values
from llmops_warehouse.tables import TABLES, tables_by_name

from tests.unit.warehouse.call_store_contract import BASE, new_tenant
from tests.unit.warehouse.test_pass_columns import ITEMS

pytestmark = pytest.mark.integration

ROUTER = Router(tables=TABLES, compacted=frozenset())
_SELECT = ", ".join(
    {"judged_at": "toUnixTimestamp64Milli(judged_at)"}.get(name, name) for name in PASS_COLUMNS
)  # the stored values in pass_values' form (times as epoch milliseconds)


def published(tenant: str, n: int, **fields: Any) -> CloudEvent[EvaluationScored]:
    data = {"evaluation_id": f"pass-{n}", "call_id": f"call-{n}", "scores": ITEMS, "judged_at": BASE, **fields}
    event = CloudEvent.wrap(EvaluationScored.model_validate(data), source="/services/evaluation", tenant_id=tenant)
    return event.model_copy(update={"time": BASE + timedelta(minutes=n)})


def decoded(event: CloudEvent[Any]) -> StoredEvent:
    """The event as the consumer decodes its record."""
    record = ConsumedMessage(EvaluationScored.topic, 0, 0, event.tenant_id.encode(), event.to_json_bytes(), (), 0)
    stored = ROUTER.decode(record)
    assert isinstance(stored, StoredEvent)
    return stored


def item_columns(client: Any, database: str, tenant: str) -> list[list[Any]]:
    rows = client.query(
        f"SELECT {_SELECT} FROM {database}.evaluation_scores WHERE tenant_id = {{t:String}} ORDER BY time",
        parameters={"t": tenant},
    ).result_rows
    return [list(row) for row in rows]


def expected_columns(events: list[StoredEvent]) -> list[list[Any]]:
    offset = len(PASS_INSERT_COLUMNS) - len(PASS_COLUMNS)
    return [list(row) for row in zip(*pass_values(events)[offset:], strict=True)]


def documents(store: Any, tenant: str) -> list[dict[str, Any]]:
    page = store.read_events(EventQuery(tenant_id=tenant, table=SCORES_TABLE, limit=100))
    return [item.model_dump(mode="json", exclude={"ingested_at"}) for item in page.items]


@pytest.fixture
def store(chdb_client: Any, warehouse_database: str) -> ClickHouseEventStore:
    return ClickHouseEventStore(chdb_client, warehouse_database)


def test_passes_read_back_as_before_with_their_item_columns(
    store: ClickHouseEventStore, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    events = [
        decoded(published(tenant, 1)),
        StoredEvent.of(SCORES_TABLE, published(tenant, 2, app="bot", run_id="run-1", example_id="ex-1")),
        decoded(published(tenant, 3, app="bot", replay_id="rp-1", compared_call_id="call-9")),
    ]
    assert store.insert_events(events) == 3
    assert store.insert_events(events[:2]) == 0  # a redelivery
    memory = InMemoryEventStore()
    memory.insert_events(events)
    assert documents(store, tenant) == documents(memory, tenant)
    assert item_columns(chdb_client, warehouse_database, tenant) == expected_columns(events)


def test_the_item_columns_answer_per_metric_and_per_replay_reads(
    store: ClickHouseEventStore, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    store.insert_events([decoded(published(tenant, n, app="bot", replay_id=f"rp-{n % 2}")) for n in range(4)])
    per_metric = chdb_client.query(
        "SELECT metric, outcome, count(), avg(score) FROM ("
        f" SELECT * FROM {warehouse_database}.evaluation_scores WHERE tenant_id = {{t:String}} AND app = 'bot'"
        "  LIMIT 1 BY time, event_id)"
        " ARRAY JOIN score_metrics AS metric, score_outcomes AS outcome, score_values AS score"
        " GROUP BY metric, outcome ORDER BY metric",
        parameters={"t": tenant},
    ).result_rows
    assert per_metric == [
        ("faithfulness", "malformed", 4, None),
        ("length", "scored", 4, 1.0),
        ("relevance", "error", 4, None),
        ("similarity", "scored", 4, -0.5),
        ("tone", "timeout", 4, None),
    ]
    replayed = chdb_client.query(
        f"SELECT call_id FROM {warehouse_database}.evaluation_scores"
        " WHERE tenant_id = {t:String} AND replay_id = 'rp-1' AND has(score_metrics, 'tone') ORDER BY call_id",
        parameters={"t": tenant},
    ).result_rows
    assert replayed == [("call-1",), ("call-3",)]


def test_rows_stored_before_0012_get_their_item_columns_from_the_payload(
    chdb_client: Any, scratch_database: str, tmp_path: Path
) -> None:
    for migration in sorted(default_migrations_dir().glob("00*.sql")):
        if int(migration.name[:4]) < 12:
            shutil.copy(migration, tmp_path)
    apply_migrations(chdb_client, tmp_path, database=scratch_database)
    tenant = new_tenant()
    table = tables_by_name()[SCORES_TABLE]
    v2 = [
        StoredEvent.of(SCORES_TABLE, published(tenant, 1)),
        StoredEvent.of(SCORES_TABLE, published(tenant, 2, app="bot", run_id="r", example_id="e", replay_id="p")),
    ]
    old = CloudEvent.wrap(example(EvaluationScoredV1), source="/services/evaluation", tenant_id=tenant)
    old = old.model_copy(update={"time": BASE + timedelta(minutes=3)})
    v1 = StoredEvent.of(SCORES_TABLE, old)  # stored as it came, before v2 and its upcaster existed
    before_0012 = dataclasses.replace(table, columns=table.columns[:3])  # app, call_id, run_id: no replay_id yet
    chdb_client.insert(
        f"{scratch_database}.{SCORES_TABLE}",
        [event_values(before_0012, e) for e in v2],
        column_names=event_columns(before_0012),
    )
    before_runs = dataclasses.replace(table, columns=table.columns[:2])  # app and call_id: v1 had no run_id
    chdb_client.insert(
        f"{scratch_database}.{SCORES_TABLE}", [event_values(before_runs, v1)], column_names=event_columns(before_runs)
    )
    before = documents(ClickHouseEventStore(chdb_client, scratch_database), tenant)

    applied = apply_migrations(chdb_client, database=scratch_database)
    assert applied[0] == "0012_evaluation_pass_columns", applied  # the later ones touch other tables
    upcast = StoredEvent.of(SCORES_TABLE, old.model_copy(update={"data": EvaluationScored.from_v1(old.data)}))
    assert item_columns(chdb_client, scratch_database, tenant) == expected_columns([*v2, upcast])
    assert documents(ClickHouseEventStore(chdb_client, scratch_database), tenant) == before
