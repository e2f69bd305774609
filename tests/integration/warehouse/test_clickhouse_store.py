"""The EventStore contract on ClickHouse (embedded chDB), plus ClickHouse-specific behaviour."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver import rustcodec
from llmops_warehouse.adapters.clickhouse_client import NativeCodec, connect
from llmops_warehouse.adapters.clickhouse_sql import event_columns, event_values
from llmops_warehouse.adapters.clickhouse_store import _CALL_INSERT_SETTINGS, _SEARCH_EXPRESSION, ClickHouseEventStore
from llmops_warehouse.events import EventQuery, StoredEvent
from llmops_warehouse.migrations import apply_migrations, default_migrations_dir, split_statements
from llmops_warehouse.models import CallQuery, MetricsQuery
from llmops_warehouse.pass_columns import PASS_INSERT_COLUMNS, pass_values
from llmops_warehouse.tables import table_named

from tests.fixtures.backends import Backend, session_backend
from tests.unit.warehouse.call_store_contract import (
    BASE,
    EventStoreContract,
    make_event,
    new_tenant,
    prompt_tombstone,
    read,
    score_event,
)
from tests.unit.warehouse.call_v2_contract import CallV2StoreContract

pytestmark = pytest.mark.integration


class TestClickHouseEventStore(EventStoreContract, CallV2StoreContract):
    @pytest.fixture
    def store(self, chdb_client: Any, warehouse_database: str) -> ClickHouseEventStore:
        return ClickHouseEventStore(chdb_client, warehouse_database)


class TestClickHouseEventStoreWithReaders(EventStoreContract, CallV2StoreContract):
    """Production's shape: reads on clients of their own, with a server-side time limit."""

    @pytest.fixture
    def store(self, chdb_client: Any, chdb_url: str, warehouse_database: str) -> ClickHouseEventStore:
        return ClickHouseEventStore(
            chdb_client, warehouse_database, reader=lambda: connect(chdb_url), read_settings={"max_execution_time": 30}
        )


class TestClickHouseEventStoreOnEachCodec(EventStoreContract, CallV2StoreContract):
    """The contract with every client on one codec. ``rust_strict``: every insert and read encoded and decoded by
    clickhouse-connect's compiled codec with no route to the Python one (it raises on a type it lacks), where the
    default, ``rust``, would fall back silently and cost the CPU it was chosen to save (docs/adr/0067). ``python``:
    ``WAREHOUSE_NATIVE_CODEC=python``, the way back should the compiled codec misbehave."""

    @pytest.fixture(params=["rust_strict", "python"])
    def store(self, request: pytest.FixtureRequest, chdb_url: str, warehouse_database: str) -> ClickHouseEventStore:
        def client() -> Any:
            return connect(chdb_url, native_codec=request.param)

        return ClickHouseEventStore(client(), warehouse_database, reader=client)


@pytest.mark.parametrize("codec", ["rust", "rust_strict"])
def test_an_embedded_client_encodes_its_inserts_with_the_compiled_codec(
    chdb_url: str, warehouse_database: str, codec: NativeCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clickhouse-connect ignores ``native_codec`` for chDB; ``connect`` gives the client the compiled transform, and
    the calls' insert goes through it (the contract classes above cannot tell which codec ran)."""
    if session_backend() is Backend.TESTCONTAINERS:
        pytest.skip("a server's client takes native_codec from clickhouse-connect itself")
    built: list[int] = []
    build_insert = rustcodec._RustNativeTransform.build_insert

    def counting(self: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(len(context.data[0]) if context.column_oriented else len(context.data))
        return build_insert(self, context, *args, **kwargs)

    monkeypatch.setattr(rustcodec._RustNativeTransform, "build_insert", counting)
    store = ClickHouseEventStore(connect(chdb_url, native_codec=codec), warehouse_database)
    tenant = new_tenant()
    assert store.insert_calls([make_event(tenant, call_id=f"c{i}", started_at=BASE) for i in range(3)]) == 3
    assert built == [3]
    assert len(store.list_calls(CallQuery(tenant_id=tenant)).items) == 3
    monkeypatch.setattr(rustcodec._RustNativeTransform, "build_insert", build_insert)
    on_python = ClickHouseEventStore(connect(chdb_url, native_codec="python"), warehouse_database)
    assert on_python.insert_calls([make_event(new_tenant(), started_at=BASE)]) == 1
    assert built == [3]


@pytest.fixture
def store(chdb_client: Any, warehouse_database: str) -> ClickHouseEventStore:
    return ClickHouseEventStore(chdb_client, warehouse_database)


def test_a_batch_spanning_more_days_than_clickhouse_s_partition_limit_is_stored(store: ClickHouseEventStore) -> None:
    """Tables are partitioned by day and ClickHouse refuses an insert into over 100 partitions by default: a
    warehouse reading a compacted topic from its start meets such a batch, which must not be retried forever."""
    tenant = new_tenant()
    calls = [make_event(tenant, started_at=BASE - timedelta(days=day)) for day in range(150)]
    scores = [score_event(tenant, at=BASE - timedelta(days=day)) for day in range(150)]
    assert store.insert_calls(calls) == 150
    assert store.insert_events(scores) == 150
    # (calls older than their 90-day TTL are dropped after the insert; the event tables keep 400 days)
    first = store.read_events(EventQuery(tenant_id=tenant, table="evaluation_scores", limit=100))
    assert first.next_cursor is not None
    rest = store.read_events(EventQuery(tenant_id=tenant, table="evaluation_scores", cursor=first.next_cursor))
    assert len(first.items) + len(rest.items) == 150


def test_uuid_order_matches_the_fake(chdb_client: Any) -> None:
    ids = ["00000000-0000-0003-0000-000000000005", "00000000-0000-0005-0000-000000000003"]
    rows = chdb_client.query(
        "SELECT toString(u) FROM (SELECT arrayJoin({ids:Array(UUID)}) AS u) ORDER BY u", parameters={"ids": ids}
    ).result_rows
    assert [r[0] for r in rows] == [ids[1], ids[0]]


def test_replacing_merge_tree_collapses_a_duplicate_that_slipped_past_the_check(
    store: ClickHouseEventStore, chdb_client: Any, warehouse_database: str
) -> None:
    # Two writers racing (no shared lock) could both insert an event; reads and merges keep one row.
    tenant = new_tenant()
    event = make_event(tenant)
    other = ClickHouseEventStore(chdb_client, warehouse_database)
    assert store.insert_calls([event]) == 1
    chdb_client.command(
        # REPLACE keeps every other column in place (a positional "* EXCEPT ingested_at, now64(3)" shifted them,
        # and the last one is expires_at since migration 0023: the copy expired at once)
        f"INSERT INTO {warehouse_database}.calls SELECT * REPLACE (now64(3) AS ingested_at)"
        f" FROM {warehouse_database}.calls WHERE tenant_id = {{t:String}}",
        parameters={"t": tenant},
    )
    assert len(other.list_calls(CallQuery(tenant_id=tenant)).items) == 1
    chdb_client.command(f"OPTIMIZE TABLE {warehouse_database}.calls FINAL")
    count = chdb_client.command(
        f"SELECT count() FROM {warehouse_database}.calls WHERE tenant_id = {{t:String}}", parameters={"t": tenant}
    )
    assert count == 1


def test_calls_are_inserted_without_clickhouse_s_insert_time_merge(
    store: ClickHouseEventStore, chdb_client: Any, warehouse_database: str
) -> None:
    """The calls insert leaves ClickHouse's merge of the block out (docs/adr/0060: the store already keeps one row
    per event id); were a duplicate ever in a block, reads still return it once and a merge collapses it."""
    tenant = new_tenant()
    event = make_event(tenant, started_at=BASE)
    assert store.insert_calls([event]) == 1
    stored = chdb_client.query(
        f"SELECT * FROM {warehouse_database}.calls WHERE tenant_id = {{t:String}}", parameters={"t": tenant}
    )
    [row] = stored.result_rows
    columns = stored.column_names
    raw = ClickHouseEventStore(chdb_client, warehouse_database)  # the calls insert's path with every column
    with raw.writing() as client:  # one block holding the row twice
        raw._insert(client, "calls", columns, [row, row], column_oriented=False, settings=_CALL_INSERT_SETTINGS)
    count = f"SELECT count() FROM {warehouse_database}.calls WHERE tenant_id = {{t:String}}"
    assert chdb_client.command(count, parameters={"t": tenant}) == 3  # no merge at insert: both copies landed
    assert len(store.list_calls(CallQuery(tenant_id=tenant)).items) == 1
    chdb_client.command(f"OPTIMIZE TABLE {warehouse_database}.calls FINAL")
    assert chdb_client.command(count, parameters={"t": tenant}) == 1


def test_an_embedded_insert_spools_its_block_to_the_process_s_temporary_directory(
    store: ClickHouseEventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clickhouse-connect's chDB backend writes each insert's Native block to a temporary file that the engine reads
    back: ``WAREHOUSE_CHDB_SPOOL_DIR`` (docs/adr/0062) relies on it landing in the process's temporary directory,
    and on its removal after the insert."""
    if session_backend() is Backend.TESTCONTAINERS:
        pytest.skip("a ClickHouse server receives inserts over HTTP: nothing is spooled")
    spooled: list[Path] = []
    named_temporary_file = tempfile.NamedTemporaryFile

    def recording(*args: Any, **kwargs: Any) -> Any:
        file = named_temporary_file(*args, **kwargs)
        spooled.append(Path(file.name))
        return file

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", recording)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tenant = new_tenant()
    assert store.insert_calls([make_event(tenant, started_at=BASE)]) == 1
    assert spooled
    assert {path.parent for path in spooled} == {tmp_path}
    assert not any(path.exists() for path in spooled)
    assert len(store.list_calls(CallQuery(tenant_id=tenant)).items) == 1


@pytest.mark.parametrize("shape", ["pass", "generic"])
def test_events_are_inserted_without_clickhouse_s_insert_time_merge(
    store: ClickHouseEventStore, chdb_client: Any, warehouse_database: str, shape: str
) -> None:
    """The event tables' inserts leave ClickHouse's merge of the block out too (docs/adr/0059: ``insert_events``
    already keeps one row per (tenant, event id)); were a duplicate ever in a block, reads still return it once and
    a merge collapses it. The second block goes through the insert context ``insert_events`` made, so with the
    settings it inserts with."""
    tenant = new_tenant()
    event: StoredEvent = score_event(tenant) if shape == "pass" else prompt_tombstone(tenant, "p", 1, offset=7)
    assert store.insert_events([event]) == 1
    table = table_named(store._tables, event.table)
    if shape == "pass":
        columns, data, oriented = PASS_INSERT_COLUMNS, pass_values([event, event]), True
    else:
        columns, data, oriented = event_columns(table), [event_values(table, event)] * 2, False
    with store.writing() as client:  # one block holding the row twice
        store._insert(client, event.table, columns, data, column_oriented=oriented)
    count = f"SELECT count() FROM {warehouse_database}.{event.table} WHERE tenant_id = {{t:String}}"
    assert chdb_client.command(count, parameters={"t": tenant}) == 3  # no merge at insert: both copies landed
    assert len(read(store, tenant, event.table)) == 1
    chdb_client.command(f"OPTIMIZE TABLE {warehouse_database}.{event.table} FINAL")
    assert chdb_client.command(count, parameters={"t": tenant}) == 1


def test_optional_text_index_serves_the_search(chdb_client: Any, scratch_database: str) -> None:
    apply_migrations(chdb_client, database=scratch_database)
    optional = default_migrations_dir().parent / "optional" / "text_search_index.sql"
    for statement in split_statements(optional.read_text().replace("${database}", scratch_database)):
        chdb_client.command(statement)
    store = ClickHouseEventStore(chdb_client, scratch_database)
    tenant = new_tenant()
    hit = make_event(tenant, content="a Needle in a haystack")
    store.insert_calls([hit] + [make_event(tenant, content=f"hay {i}") for i in range(50)])
    assert [r.event_id for r in store.list_calls(CallQuery(tenant_id=tenant, text="NEEDLE")).items] == [hit.id]
    plan = chdb_client.query(
        f"EXPLAIN indexes = 1 SELECT event_id FROM {scratch_database}.calls"
        f" WHERE tenant_id = {{t:String}} AND {_SEARCH_EXPRESSION} LIKE {{p:String}}",
        parameters={"t": tenant, "p": "%needle%"},
    ).result_rows
    assert "idx_text" in "\n".join(str(r[0]) for r in plan)


def test_rollup_is_fed_by_the_materialized_view(
    store: ClickHouseEventStore, chdb_client: Any, warehouse_database: str
) -> None:
    tenant = new_tenant()
    store.insert_calls([make_event(tenant, started_at=BASE + timedelta(seconds=i)) for i in range(3)])
    rows = chdb_client.query(
        f"SELECT minute, countMerge(calls) FROM {warehouse_database}.calls_per_minute WHERE tenant_id = {{t:String}}"
        " GROUP BY minute",
        parameters={"t": tenant},
    ).result_rows
    assert [(r[0].replace(tzinfo=None), r[1]) for r in rows] == [(BASE.replace(tzinfo=None), 3)]
    [summary] = store.summary(MetricsQuery(tenant_id=tenant, start=BASE, end=BASE + timedelta(minutes=1)))
    assert summary.calls == 3


def test_ping(store: ClickHouseEventStore) -> None:
    assert store.ping() is True


def test_ping_is_false_when_the_client_fails() -> None:
    class Broken:
        def command(self, *_: Any, **__: Any) -> Any:
            raise ConnectionError("down")

    assert ClickHouseEventStore(Broken()).ping() is False


def test_invalid_database_name_is_refused(chdb_client: Any) -> None:
    with pytest.raises(ValueError, match="invalid database name"):
        ClickHouseEventStore(chdb_client, "x; DROP TABLE y")
