"""The local spool: call events Kafka could not take, as append-only JSON Lines files, fsync'd per batch.

Events are appended to an open segment (``*.jsonl.open``); a segment is sealed (renamed ``*.jsonl``) when it
grows past ``segment_bytes`` or when a replay starts, so a replay reads only files nobody writes to any more.
A replayed segment is deleted once Kafka acknowledged all of it. A crash between the acknowledgement and the
delete replays the segment again, with the same event ids, which every consumer deduplicates on. Segments left
open by a crashed process are sealed at start. Methods block (file I/O): call them from a worker thread.

The spool is bounded: it holds at most ``max_events`` events and ``max_bytes`` bytes (segments on disk, open
and sealed). A batch that would go over either is refused whole with :class:`SpoolFull`, before anything is
written: a disk never fills up with events Kafka may never take, and the caller counts what was refused.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from pathlib import Path

from llmops_inference.metrics import SPOOL_BYTES, SPOOL_PENDING

__all__ = ["Spool", "SpoolFull"]

log = logging.getLogger(__name__)
_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:64] or "host"
OPEN_SUFFIX = ".jsonl.open"
SEALED_SUFFIX = ".jsonl"


class SpoolFull(Exception):
    """The batch does not fit: the spool would hold more than its most events or bytes (nothing was written)."""


class Spool:
    """A directory of JSONL segments, bounded in events and bytes; thread-safe."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 8 * 1024 * 1024,
        max_bytes: int = 1024 * 1024 * 1024,
        max_events: int = 1_000_000,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.max_events = max_events
        self._lock = threading.Lock()
        self._open: Path | None = None
        self._open_size = 0
        self._sequence = 0
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*" + OPEN_SUFFIX):
            self._seal(leftover)
        sealed = self.segments_sealed()
        self._pending = sum(_count_lines(p) for p in sealed)
        self._bytes = sum(_size(p) for p in sealed)
        self._publish_gauges()

    @property
    def pending(self) -> int:
        """Events in the spool (sealed and open segments)."""
        return self._pending

    @property
    def size_bytes(self) -> int:
        """Bytes of the spool's segments."""
        return self._bytes

    def append(self, lines: list[bytes]) -> None:
        """Append events (one JSON document each, without newlines) and fsync before returning.

        Raises :class:`SpoolFull` (writing nothing) when they would not fit within the bounds.
        """
        if not lines:
            return
        data = b"".join(line + b"\n" for line in lines)
        with self._lock:
            self._check_room(len(lines), len(data))
            if self._open is None:
                self._open = self._new_segment_path()
                self._open_size = 0
            with self._open.open("ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._open_size += len(data)
            self._pending += len(lines)
            self._bytes += len(data)
            self._publish_gauges()
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
            size = _size(segment)
            segment.unlink(missing_ok=True)
            self._pending = max(0, self._pending - events)
            self._bytes = max(0, self._bytes - size)
            self._publish_gauges()

    def _check_room(self, events: int, size: int) -> None:
        if self._pending + events > self.max_events or self._bytes + size > self.max_bytes:
            raise SpoolFull(
                f"the spool holds {self._pending} events ({self._bytes} bytes); {events} more ({size} bytes) would"
                f" exceed its bounds of {self.max_events} events and {self.max_bytes} bytes"
            )

    def _publish_gauges(self) -> None:
        SPOOL_PENDING.set(self._pending)
        SPOOL_BYTES.set(self._bytes)

    def _new_segment_path(self) -> Path:
        self._sequence += 1
        # Time first, so names sort oldest first; host, pid and a sequence keep two processes' names apart (pods
        # sharing a volume all run as pid 1).
        name = f"calls-{time.time_ns():020d}-{_HOST}-{os.getpid()}-{self._sequence:06d}{OPEN_SUFFIX}"
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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
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
