"""Migration files: naming, splitting, lookup (applying them runs on chDB in tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmops_warehouse.migrations import (
    ENV_MIGRATIONS,
    MigrationError,
    default_migrations_dir,
    load_migrations,
    split_statements,
)

REPO = Path(__file__).resolve().parents[3]


def test_default_directory_is_the_repository_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MIGRATIONS, raising=False)
    monkeypatch.delenv("LLMOPS_HOME", raising=False)
    assert default_migrations_dir() == REPO / "infra" / "clickhouse" / "migrations"


def test_env_overrides_the_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_MIGRATIONS, str(tmp_path))
    assert default_migrations_dir() == tmp_path
    assert load_migrations() == []


def test_repository_migrations_load_in_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert [m.id for m in migrations][:2] == ["0001_calls", "0002_calls_per_minute"]
    for migration in migrations:
        statements = migration.statements("llmops")
        assert statements, migration.path
        assert all("${database}" not in s and not s.endswith(";") for s in statements)
        assert len(migration.checksum) == 64


def test_split_statements() -> None:
    sql = """-- a comment; with a semicolon;
CREATE TABLE x (a String DEFAULT 'a;b')
ENGINE = Memory;

  -- another
SELECT 1 ;
SELECT 2"""
    assert split_statements(sql) == [
        "CREATE TABLE x (a String DEFAULT 'a;b')\nENGINE = Memory",
        "SELECT 1",
        "SELECT 2",
    ]


def test_malformed_directories(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        load_migrations(tmp_path / "missing")
    (tmp_path / "first.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"<version>_<name>\.sql"):
        load_migrations(tmp_path)
    (tmp_path / "first.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "001_b.sql").write_text("SELECT 2;\n")
    with pytest.raises(MigrationError, match="version 1 is also used"):
        load_migrations(tmp_path)
