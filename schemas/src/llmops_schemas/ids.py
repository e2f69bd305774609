"""Event and entity identifiers.

Event ids are UUIDv7 (time-ordered, so ClickHouse primary keys and Kafka logs stay roughly sorted).
When a producer supplies its own id for an entity (for example a client's call id), the event id is
derived from it deterministically, so a retried submission yields the same event id and every
downstream sink can deduplicate on it.
"""

from __future__ import annotations

import hashlib
import time

import uuid_utils

__all__ = ["IdFamily", "deterministic_uuid7", "new_uuid7"]


def new_uuid7() -> str:
    """A fresh, random UUIDv7 as a string."""
    return str(uuid_utils.uuid7())


def deterministic_uuid7(timestamp_ms: int | None, *parts: str) -> str:
    """A UUIDv7 whose time field is ``timestamp_ms`` and whose random bits are a hash of ``parts``.

    The same inputs always give the same id; different parts collide only with SHA-256 odds.
    """
    ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return _uuid7_of(ms, hashlib.sha256("\x1f".join(parts).encode()).digest())


class IdFamily:
    """``deterministic_uuid7(timestamp_ms, *prefix, *parts)`` for many ``parts`` after one ``prefix``.

    The prefix is hashed once (a SHA-256 state copied per id): the online scorer derives a pass id and one id
    per score from the same tenant and call, eight ids a call.
    """

    __slots__ = ("_head", "_prefix")

    def __init__(self, timestamp_ms: int, *prefix: str) -> None:
        self._head = _head_of(timestamp_ms)
        self._prefix = hashlib.sha256("\x1f".join(prefix).encode())

    def id(self, *parts: str) -> str:
        """The id of ``prefix + parts`` (at least one part)."""
        digest = self._prefix.copy()
        digest.update(("\x1f" + "\x1f".join(parts)).encode())
        return _formatted(self._head, digest.digest())


def _uuid7_of(timestamp_ms: int, digest: bytes) -> str:
    """RFC 9562 layout: 48-bit unix ms | version 7 | 12 bits of ``digest`` | variant 0b10 | 62 bits of ``digest``.

    Formatted by hand: ``str(uuid.UUID(int=value))`` costs several times more (its constructor checks every
    argument form), and ingest derives one id per record.
    """
    return _formatted(_head_of(timestamp_ms), digest)


_VERSION = tuple(format(0x70 | b & 0x0F, "02x") for b in range(256))
"""The hex of the version byte (7, then the low nibble of the digest's first byte), by that byte."""
_VARIANT = tuple(format(0x80 | b & 0x3F, "02x") for b in range(256))
"""The hex of the variant byte (0b10, then the low six bits of the digest's third byte), by that byte."""


def _head_of(timestamp_ms: int) -> str:
    """The time field's 12 hex digits with the first group's dash (the same for every id of one call)."""
    h = (max(0, timestamp_ms) & 0xFFFF_FFFF_FFFF).to_bytes(6, "big").hex()
    return f"{h[:8]}-{h[8:]}"


def _formatted(head: str, digest: bytes) -> str:
    """The id of ``head`` (:func:`_head_of`) and the first ten bytes of ``digest``: two table look-ups and one
    ``hex`` rather than a new ``bytes`` per id (the online scorer derives eight ids a call)."""
    h = digest[:10].hex()
    return f"{head}-{_VERSION[digest[0]]}{h[2:4]}-{_VARIANT[digest[2]]}{h[6:8]}-{h[8:20]}"
