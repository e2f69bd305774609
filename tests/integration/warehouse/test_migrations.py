"""Applying migrations on chDB: order, idempotence, checksums, recovery from a half-applied migration."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from llmops_schemas.v2 import Choice, TokenUsage
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.migrations import MigrationChecksumError, MigrationError, apply_migrations, default_migrations_dir

pytestmark = pytest.mark.integration


def _tables(client: Any, database: str) -> set[str]:
    rows = client.query("SELECT name FROM system.tables WHERE database = {d:String}", parameters={"d": database})
    return {r[0] for r in rows.result_rows}


def test_repository_migrations_apply_once(chdb_client: Any, scratch_database: str) -> None:
    applied = apply_migrations(chdb_client, database=scratch_database)
    assert applied == [m.stem for m in sorted(default_migrations_dir().glob("*.sql"))]
    assert {"calls", "calls_per_minute", "calls_per_minute_mv", "schema_migrations"} <= _tables(
        chdb_client, scratch_database
    )
    assert apply_migrations(chdb_client, database=scratch_database) == []
    recorded = chdb_client.query(
        f"SELECT version, name, length(checksum) FROM {scratch_database}.schema_migrations ORDER BY version"
    )
    assert recorded.result_rows[:2] == [(1, "calls", 64), (2, "calls_per_minute", 64)]


def test_calls_merge_fewer_wider_parts(chdb_client: Any, scratch_database: str) -> None:
    """Migration 0024 (docs/adr/0061): calls' merge selector gathers ten parts of a size, not five, so a stored
    call is rewritten by fewer background merges; the rollup and the event tables keep the default."""
    apply_migrations(chdb_client, database=scratch_database)
    rows = chdb_client.query(
        "SELECT name, engine_full FROM system.tables"
        " WHERE database = {d:String} AND name IN ('calls', 'calls_per_minute')",
        parameters={"d": scratch_database},
    ).result_rows
    engines = dict(rows)
    assert "merge_selector_base = 10" in engines["calls"]
    assert "merge_selector_base" not in engines["calls_per_minute"]


def test_new_migrations_apply_in_order(chdb_client: Any, scratch_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE IF NOT EXISTS ${database}.a (x UInt8) ENGINE = Memory;\n")
    assert apply_migrations(chdb_client, tmp_path, database=scratch_database) == ["0001_first"]
    (tmp_path / "0010_later.sql").write_text(
        "-- two statements\nCREATE TABLE IF NOT EXISTS ${database}.c (x UInt8) ENGINE = Memory;\n"
        "INSERT INTO ${database}.c\nVALUES (1);\n"
    )
    (tmp_path / "0002_second.sql").write_text("CREATE TABLE IF NOT EXISTS ${database}.b (x UInt8) ENGINE = Memory;\n")
    assert apply_migrations(chdb_client, tmp_path, database=scratch_database) == ["0002_second", "0010_later"]
    assert {"a", "b", "c"} <= _tables(chdb_client, scratch_database)
    assert apply_migrations(chdb_client, tmp_path, database=scratch_database) == []


def test_edited_applied_migration_is_a_clear_error(chdb_client: Any, scratch_database: str, tmp_path: Path) -> None:
    migration = tmp_path / "0001_first.sql"
    migration.write_text("CREATE TABLE IF NOT EXISTS ${database}.a (x UInt8) ENGINE = Memory;\n")
    apply_migrations(chdb_client, tmp_path, database=scratch_database)
    migration.write_text("CREATE TABLE IF NOT EXISTS ${database}.a (x UInt16) ENGINE = Memory;\n")
    (tmp_path / "0002_second.sql").write_text("CREATE TABLE IF NOT EXISTS ${database}.b (x UInt8) ENGINE = Memory;\n")
    with pytest.raises(MigrationChecksumError, match=r"0001_first\.sql was changed after it was applied"):
        apply_migrations(chdb_client, tmp_path, database=scratch_database)
    assert "b" not in _tables(chdb_client, scratch_database)  # nothing applied past the error


def test_failed_migration_is_not_recorded_and_reruns(chdb_client: Any, scratch_database: str, tmp_path: Path) -> None:
    migration = tmp_path / "0001_first.sql"
    migration.write_text("CREATE TABLE IF NOT EXISTS ${database}.a (x UInt8) ENGINE = Memory;\nTHIS IS NOT SQL;\n")
    with pytest.raises(Exception, match=r"(?i)syntax"):
        apply_migrations(chdb_client, tmp_path, database=scratch_database)
    assert "a" in _tables(chdb_client, scratch_database)  # DDL is not transactional...
    migration.write_text("CREATE TABLE IF NOT EXISTS ${database}.a (x UInt8) ENGINE = Memory;\n")
    # ...so statements are idempotent and the fixed migration applies from its first statement.
    assert apply_migrations(chdb_client, tmp_path, database=scratch_database) == ["0001_first"]


def test_database_name_is_validated(chdb_client: Any, tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="invalid database name"):
        apply_migrations(chdb_client, tmp_path, database="llmops; DROP DATABASE x")


def test_copied_migrations_directory_works(chdb_client: Any, scratch_database: str, tmp_path: Path) -> None:
    target = tmp_path / "infra" / "clickhouse" / "migrations"
    shutil.copytree(default_migrations_dir(), target)
    assert len(apply_migrations(chdb_client, target, database=scratch_database)) >= 2
    # Same files, same checksums: the repository directory sees nothing left to do.
    assert apply_migrations(chdb_client, database=scratch_database) == []


def test_calls_stored_before_v2_read_back_as_v2_calls(chdb_client: Any, scratch_database: str, tmp_path: Path) -> None:
    """Rows written before 0005 have none of its columns: they read back as the v1 call they were, upcast."""
    for migration in sorted(default_migrations_dir().glob("000[1-4]_*.sql")):
        shutil.copy(migration, tmp_path)
    apply_migrations(chdb_client, tmp_path, database=scratch_database)
    chdb_client.command(
        f"INSERT INTO {scratch_database}.calls (event_id, tenant_id, call_id, app, environment, model, provider, "
        "message_roles, message_contents, message_names, message_tool_call_ids, output, finish_reason, parameters, "
        "prompt_tokens, completion_tokens, total_tokens, latency_ms, status, started_at, received_at) VALUES "
        "('0193f3c4-0000-7000-8000-000000000001', 'acme', 'old-1', 'bot', 'production', 'm', 'openai', "
        "['user', 'tool'], ['hi', '42'], ['', ''], ['', 'call_1'], 'hello', 'stop', '{}', 3, 2, 5, 10, 'ok', "
        "now64(3) - INTERVAL 1 DAY, now64(3) - INTERVAL 1 DAY)"
    )
    apply_migrations(chdb_client, database=scratch_database)
    stored = ClickHouseEventStore(chdb_client, scratch_database).get_call("acme", "old-1")
    assert stored is not None
    assert [(m.role, m.content, m.tool_call_id, m.tool_calls) for m in stored.messages] == [
        ("user", "hi", None, None),
        ("tool", "42", "call_1", None),
    ]
    assert stored.choices == [Choice(output="hello", finish_reason="stop")]
    assert stored.usage == TokenUsage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    assert stored.request is None
