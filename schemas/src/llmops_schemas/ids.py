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

__all__ = ["deterministic_uuid7", "new_uuid7"]


def new_uuid7() -> str:
    """A fresh, random UUIDv7 as a string."""
    return str(uuid_utils.uuid7())


def deterministic_uuid7(timestamp_ms: int | None, *parts: str) -> str:
    """A UUIDv7 whose time field is ``timestamp_ms`` and whose random bits are a hash of ``parts``.

    The same inputs always give the same id; different parts collide only with SHA-256 odds.
    """
    ms = int(time.time() * 1000) if timestamp_ms is None else max(0, timestamp_ms)
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    rand_a = int.from_bytes(digest[:2], "big") & 0x0FFF
    rand_b = int.from_bytes(digest[2:10], "big") & ((1 << 62) - 1)
    # RFC 9562 layout: 48-bit unix ms | version 7 | 12 bits rand_a | variant 0b10 | 62 bits rand_b
    value = ((ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    # Formatted by hand: ``str(uuid.UUID(int=value))`` costs several times more (its constructor checks every
    # argument form), and ingest derives one id per record.
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
