"""Event ids: the derived id of a client's call id must never change between releases (sinks dedupe on it)."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from llmops_schemas.ids import IdFamily, deterministic_uuid7, new_uuid7


@pytest.mark.parametrize(
    ("timestamp_ms", "parts", "expected"),
    [
        # Golden values from the first release: a changed derivation would store retried calls twice.
        (1795883777924, ("t", "c1"), "01a22303-bf84-779a-8d92-6e19ea2401ed"),
        (0, ("tenant-a", "x"), "00000000-0000-7b67-bf02-7a0210b605d2"),
        (2**48 + 5, ("a",), "00000000-0005-7a97-8112-ca1bbdcafac2"),  # the time field wraps at 48 bits
    ],
)
def test_deterministic_ids_are_stable(timestamp_ms: int, parts: tuple[str, ...], expected: str) -> None:
    assert deterministic_uuid7(timestamp_ms, *parts) == expected


def test_deterministic_id_is_a_canonical_uuid7_carrying_the_time() -> None:
    value = deterministic_uuid7(1795883777924, "tenant", "call-1")
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1795883777924


def test_parts_change_the_id_and_separators_cannot_be_forged() -> None:
    assert deterministic_uuid7(1, "t", "a") != deterministic_uuid7(1, "t", "b")
    assert deterministic_uuid7(1, "ab", "c") != deterministic_uuid7(1, "a", "bc")


def test_new_ids_are_distinct_uuid7s() -> None:
    first, second = new_uuid7(), new_uuid7()
    assert first != second
    assert uuid.UUID(first).version == 7


@pytest.mark.parametrize(
    ("prefix", "parts"),
    [(("t",), ("c1",)), (("tenant", "call-1"), ("length", "1+abc", "length")), (("é😀", ""), ("", "\x1f"))],
)
def test_an_id_family_derives_the_ids_of_its_prefix_and_parts(prefix: tuple[str, ...], parts: tuple[str, ...]) -> None:
    assert IdFamily(1795883777924, *prefix).id(*parts) == deterministic_uuid7(1795883777924, *prefix, *parts)
    assert IdFamily(2**48 + 5, *prefix).id(*parts) == deterministic_uuid7(2**48 + 5, *prefix, *parts)


def test_ids_are_the_rfc_layout_of_the_time_and_the_hash_for_every_digest_byte() -> None:
    """The ids are formatted from tables of the version and variant bytes: every value of those bytes is reached
    (2,000 hashes) and each id equals ``uuid.UUID`` over the RFC 9562 fields."""
    seen: set[tuple[int, int]] = set()
    for n in range(2000):
        ms = (n * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF
        digest = hashlib.sha256(f"t\x1fcall-{n}".encode()).digest()
        seen.add((digest[0], digest[2]))
        fields = (ms << 80) | (0x7 << 76) | ((digest[0] & 0x0F) << 72) | (digest[1] << 64)
        fields |= (0b10 << 62) | ((digest[2] & 0x3F) << 56) | int.from_bytes(digest[3:10], "big")
        assert deterministic_uuid7(ms, "t", f"call-{n}") == str(uuid.UUID(int=fields))
        assert IdFamily(ms, "t").id(f"call-{n}") == str(uuid.UUID(int=fields))
    assert len({first for first, _ in seen}) == 256 and len({third for _, third in seen}) == 256
