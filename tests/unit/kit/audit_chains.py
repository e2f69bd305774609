"""Build a tenant's audit chain and its signed digests as the warehouse returns them (plain payload dicts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from llmops_kit.audit_digests import DigestChecker, DigestSigner, generate_private_key
from llmops_schemas.v1.audit import GENESIS_HASH
from llmops_schemas.v1.audit_chain import AuditChained

TENANT = "acme"
SIGNER = DigestSigner.from_text(generate_private_key())
CHECKER = DigestChecker([SIGNER.public_key])
AT = datetime(2026, 3, 1, tzinfo=UTC)


def record(sequence: int) -> dict[str, Any]:
    """An audit entry's JSON, different for every sequence."""
    return {
        "actor": {"type": "api_key", "id": f"key-{sequence % 7}"},
        "action": "prompt.publish",
        "resource": {"type": "prompt", "id": f"prompt-{sequence % 101}"},
        "outcome": "success",
        "details": {"version": sequence},
        "occurred_at": (AT + timedelta(milliseconds=sequence)).isoformat(),
    }


def chain(count: int, *, tenant: str = TENANT, prev_hash: str = GENESIS_HASH, start: int = 0) -> list[dict[str, Any]]:
    """``count`` chained entries from ``start``, as stored payloads."""
    rows = []
    for sequence in range(start, start + count):
        linked = AuditChained.link(
            prev_hash, tenant_id=tenant, sequence=sequence, record_id=f"rec-{sequence}", source="/services/test",
            record=record(sequence),
        )  # fmt: skip
        rows.append(linked.model_dump(mode="json"))
        prev_hash = linked.hash
    return rows


def digests(rows: list[dict[str, Any]], every: int, *, tenant: str = TENANT) -> list[dict[str, Any]]:
    """A signed digest after every ``every`` entries (and one at the end), as stored payloads."""
    ends = sorted({*range(every - 1, len(rows), every), len(rows) - 1})
    signed, first = [], 0
    for number, last in enumerate(ends):
        digest = SIGNER.sign(
            tenant, digest_number=number, first_sequence=first, last_sequence=last, last_hash=rows[last]["hash"],
            signed_at=AT + timedelta(minutes=number),
        )  # fmt: skip
        signed.append(digest.model_dump(mode="json"))
        first = last + 1
    return signed
