"""Versioned ClickHouse schema migrations (``infra/clickhouse/migrations/NNNN_name.sql``).

Rules of the format, kept deliberately simple:

* A file is named ``<version>_<name>.sql``; versions are integers, applied in ascending order, unique.
* ``${database}`` in a file is replaced by the target database name (validated as an identifier).
* Full-line ``--`` comments are dropped; the rest is split into statements at every ``;`` that ends a
  line. So a ``;`` inside a statement must not end its line (string literals spanning lines are not
  supported).
* Statements should be idempotent (``IF NOT EXISTS``): ClickHouse DDL is not transactional, so a
  migration that failed half-way is simply re-run from its first statement next time. A migration is
  recorded in ``<database>.schema_migrations`` only after all of its statements succeeded.
* An applied migration is immutable: its file's SHA-256 is recorded, and a later mismatch stops
  :func:`apply_migrations` with :class:`MigrationChecksumError` (add a new migration instead).

The default directory is ``$LLMOPS_CLICKHOUSE_MIGRATIONS``, else ``$LLMOPS_HOME/infra/clickhouse/migrations``,
else the first ``infra/clickhouse/migrations`` found walking up from this file (the workspace checkout, or
``/app`` in the container image).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_MIGRATIONS",
    "Migration",
    "MigrationChecksumError",
    "MigrationError",
    "apply_migrations",
    "default_migrations_dir",
    "load_migrations",
    "split_statements",
]

log = logging.getLogger(__name__)

ENV_MIGRATIONS = "LLMOPS_CLICKHOUSE_MIGRATIONS"
_RELATIVE_DIR = Path("infra") / "clickhouse" / "migrations"
_FILE_RE = re.compile(r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9_]+)\.sql$")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_STATEMENT_END_RE = re.compile(r";[ \t]*$", re.MULTILINE)
_COMMENT_LINE_RE = re.compile(r"^[ \t]*--.*$", re.MULTILINE)


class MigrationError(RuntimeError):
    """The migrations directory or the recorded history is not usable."""


class MigrationChecksumError(MigrationError):
    """An already-applied migration file was edited after it was applied."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path
    checksum: str
    sql: str

    @property
    def id(self) -> str:
        """``<version>_<name>`` as in the file name (what :func:`apply_migrations` reports)."""
        return self.path.stem

    def statements(self, database: str) -> list[str]:
        """The file's statements with ``${database}`` substituted."""
        return split_statements(self.sql.replace("${database}", database))


def default_migrations_dir() -> Path:
    """Where the migrations live (see the module docstring for the lookup order)."""
    env = os.environ.get(ENV_MIGRATIONS)
    if env:
        return Path(env).expanduser()
    home = os.environ.get("LLMOPS_HOME")
    if home and (Path(home).expanduser() / _RELATIVE_DIR).is_dir():
        return Path(home).expanduser() / _RELATIVE_DIR
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / _RELATIVE_DIR).is_dir():
            return parent / _RELATIVE_DIR
    raise MigrationError(f"no {_RELATIVE_DIR} above {here}; set ${ENV_MIGRATIONS} to the migrations directory")


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements at each ``;`` that ends a line; full-line comments are dropped."""
    without_comments = _COMMENT_LINE_RE.sub("", sql)
    return [stmt.strip() for stmt in _STATEMENT_END_RE.split(without_comments) if stmt.strip()]


def load_migrations(directory: Path | str | None = None) -> list[Migration]:
    """The migrations in ``directory`` (default: :func:`default_migrations_dir`), in version order."""
    root = Path(directory) if directory is not None else default_migrations_dir()
    if not root.is_dir():
        raise MigrationError(f"migrations directory {root} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(root.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named <version>_<name>.sql")
        raw = path.read_bytes()
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is also used by {found[version].path.name}")
        found[version] = Migration(
            version=version,
            name=match["name"],
            path=path,
            checksum=hashlib.sha256(raw).hexdigest(),
            sql=raw.decode("utf-8"),
        )
    return [found[v] for v in sorted(found)]


def _bootstrap(client: Any, database: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations ("
        " version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"
        ") ENGINE = MergeTree ORDER BY version"
    )


def _applied(client: Any, database: str) -> dict[int, tuple[str, str]]:
    sql = f"SELECT version, name, checksum FROM {database}.schema_migrations ORDER BY applied_at"  # noqa: S608 - validated name
    result = client.query(sql)
    # A version recorded twice (two processes migrating at once) keeps its first record; both carry the
    # checksum of the same file unless it was edited in between, which the checksum check then reports.
    applied: dict[int, tuple[str, str]] = {}
    for version, name, checksum in result.result_rows:
        applied.setdefault(int(version), (name, checksum))
    return applied


def apply_migrations(client: Any, directory: Path | str | None = None, database: str = "llmops") -> list[str]:
    """Apply, in version order, the migrations of ``directory`` not yet recorded in ``database``.

    ``client`` is a clickhouse-connect client (chDB or server). Creates the database and its
    ``schema_migrations`` table when missing. Returns the ids (``NNNN_name``) of the migrations applied
    now; re-running returns ``[]``. Raises :class:`MigrationChecksumError` before applying anything when an
    applied migration's file changed, and :class:`MigrationError` on a malformed directory.
    """
    if not _IDENTIFIER_RE.match(database):
        raise MigrationError(f"invalid database name {database!r}: use letters, digits and underscores")
    migrations = load_migrations(directory)
    _bootstrap(client, database)
    applied = _applied(client, database)
    for migration in migrations:
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationChecksumError(
                    f"migration {migration.path.name} was changed after it was applied to database {database!r} "
                    f"(recorded sha256 {checksum}, file sha256 {migration.checksum}); applied migrations are "
                    "immutable, add a new migration instead"
                )
    known = {m.version for m in migrations}
    for version, (name, _) in sorted(applied.items()):
        if version not in known:
            log.warning("migration %04d_%s is recorded in %s but has no file here", version, name, database)

    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        log.info("applying migration %s to %s", migration.id, database)
        for statement in migration.statements(database):
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(migration.id)
    return done
