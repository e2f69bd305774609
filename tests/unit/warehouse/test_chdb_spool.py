"""Where the embedded engine's inserts spool (docs/adr/0062): the choice, and what the service process sets."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from llmops_warehouse.adapters.chdb_spool import choose_spool_dir, use_spool_dir
from llmops_warehouse.config import WarehouseSettings

CHDB = "chdb:///data/clickhouse"


def test_auto_picks_a_writable_directory_with_room(tmp_path: Path) -> None:
    assert choose_spool_dir("auto", CHDB, candidate=tmp_path, min_free=0) == tmp_path


def test_auto_leaves_a_small_directory_alone(tmp_path: Path) -> None:
    """A container's 64 MiB /dev/shm holds less than one batch: the system's temporary directory it is."""
    assert choose_spool_dir("auto", CHDB, candidate=tmp_path, min_free=1 << 62) is None


def test_auto_without_the_directory_uses_the_system_s(tmp_path: Path) -> None:
    assert choose_spool_dir("auto", CHDB, candidate=tmp_path / "missing", min_free=0) is None


@pytest.mark.parametrize("setting", ["auto", "system", "/somewhere"])
def test_a_clickhouse_server_spools_nothing(setting: str) -> None:
    assert choose_spool_dir(setting, "http://clickhouse:8123", min_free=0) is None


def test_system_keeps_the_system_s_directory(tmp_path: Path) -> None:
    assert choose_spool_dir("system", CHDB, candidate=tmp_path, min_free=0) is None


def test_a_named_directory_is_used(tmp_path: Path) -> None:
    assert choose_spool_dir(str(tmp_path), CHDB) == tmp_path


def test_a_named_directory_that_is_not_there_fails_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a writable directory"):
        choose_spool_dir(str(tmp_path / "missing"), CHDB)


def test_the_service_process_points_its_temporary_files_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert use_spool_dir(str(tmp_path), CHDB) == tmp_path
    assert tempfile.gettempdir() == str(tmp_path)


def test_the_default_setting_is_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAREHOUSE_CHDB_SPOOL_DIR", raising=False)
    assert WarehouseSettings().chdb_spool_dir == "auto"
    monkeypatch.setenv("WAREHOUSE_CHDB_SPOOL_DIR", "system")
    assert WarehouseSettings().chdb_spool_dir == "system"


def test_the_service_entrypoint_sets_it_before_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmops_warehouse.entrypoints import main as entrypoint

    served: list[str] = []
    monkeypatch.setattr(entrypoint, "serve", lambda *_args, **_kwargs: served.append(tempfile.gettempdir()))
    monkeypatch.setattr(entrypoint, "configure_logging", lambda *_args: None)  # the session's logging stays as it is
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv("WAREHOUSE_CHDB_SPOOL_DIR", str(tmp_path))
    monkeypatch.setenv("CLICKHOUSE_URL", f"chdb://{tmp_path / 'engine'}")
    entrypoint.main()
    assert served == [str(tmp_path)]
