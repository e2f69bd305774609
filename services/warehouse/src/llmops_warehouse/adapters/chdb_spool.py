"""Where the embedded engine's inserts spool their blocks (docs/adr/0062).

clickhouse-connect's chDB backend writes each insert's Native block to a temporary file and has the engine read
it back (``INSERT ... FROM INFILE``): up to ``WAREHOUSE_BATCH_SIZE`` calls, tens of megabytes, written, read and
unlinked per insert. On a disk-backed filesystem the kernel's block bookkeeping for that file cost about 2 us of
CPU per call stored; on a RAM-backed one (tmpfs) it does not. The file lives only for the insert, and the process
holds the same batch in memory anyway. The backend names no directory of its own, so the process's temporary
directory is set, once, by the service process (never by a library import or a test).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

__all__ = ["AUTO_CANDIDATE", "MIN_FREE_BYTES", "choose_spool_dir", "use_spool_dir"]

log = logging.getLogger(__name__)

AUTO_CANDIDATE = Path("/dev/shm")  # noqa: S108 - only a directory for tempfile, which creates each file O_EXCL, mode 0600
"""The RAM-backed directory ``auto`` looks for (Linux's shared-memory tmpfs)."""
MIN_FREE_BYTES = 1 << 30
"""Free space ``auto`` requires of it: a container's default /dev/shm (64 MiB) is smaller than one batch's block,
and an insert that ran out of space there would fail."""


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def choose_spool_dir(
    setting: str, clickhouse_url: str, *, candidate: Path = AUTO_CANDIDATE, min_free: int = MIN_FREE_BYTES
) -> Path | None:
    """The directory inserts spool to, or None for the system's temporary directory.

    ``setting`` is ``WAREHOUSE_CHDB_SPOOL_DIR``: ``auto``, ``system`` or a path (which must be a writable
    directory: a mistyped one fails the start, not the first insert). Only an embedded engine spools.
    """
    if not clickhouse_url.lower().startswith("chdb:") or setting == "system":
        return None
    if setting != "auto":
        path = Path(setting)
        if not _writable_dir(path):
            raise ValueError(f"WAREHOUSE_CHDB_SPOOL_DIR {setting!r} is not a writable directory")
        return path
    if not _writable_dir(candidate):
        return None
    stats = os.statvfs(candidate)
    return candidate if stats.f_bavail * stats.f_frsize >= min_free else None


def use_spool_dir(setting: str, clickhouse_url: str) -> Path | None:
    """Point the process's temporary files at the chosen spool directory (a service process calls this once)."""
    chosen = choose_spool_dir(setting, clickhouse_url)
    if chosen is not None:
        tempfile.tempdir = str(chosen)
        log.info("embedded inserts spool to %s", chosen)
    return chosen
