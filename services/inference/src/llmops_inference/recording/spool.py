"""The local spool: call events Kafka could not take, as append-only JSON Lines files, fsync'd per batch.

Events are appended to an open segment (``*.jsonl.open``); a segment is sealed (renamed ``*.jsonl``) when it
grows past ``segment_bytes`` or when a replay starts, so a replay reads only files nobody writes to any more.
A replayed segment is deleted once Kafka acknowledged all of it. A crash between the acknowledgement and the
delete replays the segment again, with the same event ids, which every consumer deduplicates on. Segments left
open by a crashed process are sealed at start. Methods block (file I/O): call them from a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from llmops_inference.metrics import SPOOL_PENDING

__all__ = ["Spool"]

log = logging.getLogger(__name__)
OPEN_SUFFIX = ".jsonl.open"
SEALED_SUFFIX = ".jsonl"


class Spool:
    """A directory of JSONL segments; thread-safe."""

    def __init__(self, directory: Path, *, segment_bytes: int = 8 * 1024 * 1024) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._open: Path | None = None
        self._open_size = 0
        self._sequence = 0
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*" + OPEN_SUFFIX):
            self._seal(leftover)
        self._pending = sum(_count_lines(p) for p in self.segments_sealed())
        SPOOL_PENDING.set(self._pending)

    @property
    def pending(self) -> int:
        """Events in the spool (sealed and open segments)."""
        return self._pending

    def append(self, lines: list[bytes]) -> None:
        """Append events (one JSON document each, without newlines) and fsync before returning."""
        if not lines:
            return
        data = b"".join(line + b"\n" for line in lines)
        with self._lock:
            if self._open is None:
                self._open = self._new_segment_path()
                self._open_size = 0
            with self._open.open("ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._open_size += len(data)
            self._pending += len(lines)
            SPOOL_PENDING.set(self._pending)
            if self._open_size >= self.segment_bytes:
                self._seal_open()

    def segments(self) -> list[Path]:
        """Seal the open segment and list every sealed one, oldest first (what a replay should read)."""
        with self._lock:
            self._seal_open()
            return self.segments_sealed()

    def segments_sealed(self) -> list[Path]:
        return sorted(self.directory.glob("*" + SEALED_SUFFIX))

    def read(self, segment: Path) -> list[bytes]:
        """The events of a sealed segment (a torn last line, from a crash mid-write, is skipped by the caller)."""
        return [line for line in segment.read_bytes().split(b"\n") if line.strip()]

    def remove(self, segment: Path, events: int) -> None:
        """Delete a segment whose ``events`` were all published."""
        with self._lock:
            segment.unlink(missing_ok=True)
            self._pending = max(0, self._pending - events)
            SPOOL_PENDING.set(self._pending)

    def _new_segment_path(self) -> Path:
        self._sequence += 1
        # Time first, so names sort oldest first; pid and a sequence keep two processes' names apart.
        name = f"calls-{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}{OPEN_SUFFIX}"
        return self.directory / name

    def _seal_open(self) -> None:
        if self._open is not None:
            self._seal(self._open)
            self._open = None
            self._open_size = 0

    def _seal(self, path: Path) -> None:
        if path.exists():
            path.rename(path.with_name(path.name.removesuffix(OPEN_SUFFIX) + SEALED_SUFFIX))
            _fsync_dir(self.directory)


def _count_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())
    except OSError:
        return 0


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a platform that cannot open directories just skips it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
