"""The tenant-wide audit chain: chained entries, signed digests and the chain's head (docs/adr/0034).

The governance-audit service is the one writer. For each audit entry of a tenant (``llmops.audit.records``)
it publishes an :class:`AuditChained` on ``llmops.audit.chain``:

* ``entry`` is the canonical JSON (:func:`canonical_json`: keys sorted, no whitespace, UTF-8) of the tenant,
  the sequence, the source event's id and producer, and the audit entry itself: the exact text that is hashed,
  stored as it is so that a verifier never has to re-serialise anything;
* ``hash = SHA-256(prev_hash || entry)`` (:func:`link_hash`, hex, over the UTF-8 bytes), with ``prev_hash`` the
  hash of the previous sequence (:data:`GENESIS_HASH` before sequence 0). Editing, removing, inserting or
  reordering an entry breaks the link at that position.

A rewrite that recomputes every later hash keeps the links intact; the :class:`AuditDigest` records catch it.
Periodically the writer signs (Ed25519, like CloudTrail's digest files) the last sequence and hash it chained:
a stored chain whose hash at a digest's ``last_sequence`` differs, or that ends before it, was rewritten or
truncated. :class:`AuditChainHead` (compacted, ``llmops.audit.heads``) is where the writer resumes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, Field, JsonValue, StringConstraints

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.audit import GENESIS_HASH
from llmops_schemas.v1.common import CompactedPayload, Identifier, Sha256Hex

__all__ = [
    "MAX_ENTRY_CHARS",
    "AuditChainHead",
    "AuditChained",
    "AuditDigest",
    "canonical_json",
    "chain_entry",
    "link_hash",
]

MAX_ENTRY_CHARS = 65_536
"""The longest canonical entry the chain accepts (an audit entry has at most 64 detail fields)."""

Signature = Annotated[str, StringConstraints(min_length=88, max_length=88, pattern=r"^[A-Za-z0-9+/]{86}==$")]
"""An Ed25519 signature (64 bytes) in standard base64."""
KeyId = Annotated[str, StringConstraints(min_length=16, max_length=16, pattern=r"^[0-9a-f]{16}$")]
"""The first 16 hex digits of the SHA-256 of the raw Ed25519 public key."""


def canonical_json(value: JsonValue) -> str:
    """``value`` as canonical JSON: keys sorted, no whitespace, non-ASCII characters as themselves."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def link_hash(prev_hash: str, entry: str) -> str:
    """The hash of the entry that follows ``prev_hash``: SHA-256 (hex) of their UTF-8 concatenation."""
    return hashlib.sha256((prev_hash + entry).encode()).hexdigest()


def chain_entry(*, tenant_id: str, sequence: int, record_id: str, source: str, record: dict[str, JsonValue]) -> str:
    """The canonical text of one chained entry (``record``: the audit entry's JSON, defaults left out)."""
    return canonical_json(
        {"tenant_id": tenant_id, "sequence": sequence, "record_id": record_id, "source": source, "record": record}
    )


class AuditChained(EventPayload):
    """One audit entry at its place in its tenant's chain."""

    event_type: ClassVar[str] = "llmops.audit.chained.v1"
    topic: ClassVar[str] = "llmops.audit.chain"

    sequence: int = Field(ge=0, description="Position in the tenant's chain, from 0 without gaps")
    prev_hash: Sha256Hex = Field(description="The hash of the previous sequence (64 zeros for sequence 0)")
    hash: Sha256Hex = Field(description="SHA-256 of prev_hash followed by entry (UTF-8)")
    record_id: Identifier = Field(description="The id of the audit event on llmops.audit.records")
    entry: Annotated[str, StringConstraints(min_length=2, max_length=MAX_ENTRY_CHARS)] = Field(
        description="Canonical JSON of tenant_id, sequence, record_id, source and record: the hashed text"
    )

    @classmethod
    def link(
        cls, prev_hash: str, *, tenant_id: str, sequence: int, record_id: str, source: str,
        record: dict[str, JsonValue],
    ) -> AuditChained:  # fmt: skip
        """The entry ``record`` (an audit entry's JSON) at ``sequence``, after the entry hashed ``prev_hash``."""
        entry = chain_entry(tenant_id=tenant_id, sequence=sequence, record_id=record_id, source=source, record=record)
        return cls(sequence=sequence, prev_hash=prev_hash, hash=link_hash(prev_hash, entry), record_id=record_id,
                   entry=entry)  # fmt: skip

    def links_to(self, prev_hash: str) -> bool:
        """Whether this entry is intact and follows the entry whose hash is ``prev_hash``."""
        return self.prev_hash == prev_hash and self.hash == link_hash(prev_hash, self.entry)

    def record(self) -> dict[str, Any]:
        """The chained entry as data (tenant_id, sequence, record_id, source and the audit ``record``)."""
        parsed: dict[str, Any] = json.loads(self.entry)
        return parsed


class AuditDigest(EventPayload):
    """A signed statement of how far a tenant's chain reached: its last sequence and that sequence's hash.

    ``signature`` is Ed25519 over :meth:`signed_text` (the tenant and every other field, canonical JSON);
    ``key_id`` names the public key that verifies it. ``digest_number`` counts a tenant's digests from 0, so a
    removed digest leaves a gap.
    """

    event_type: ClassVar[str] = "llmops.audit.digest.v1"
    topic: ClassVar[str] = "llmops.audit.digests"

    digest_number: int = Field(ge=0)
    first_sequence: int = Field(ge=0, description="The first sequence chained since the previous digest")
    last_sequence: int = Field(ge=0, description="The last sequence chained when the digest was signed")
    last_hash: Sha256Hex
    signed_at: AwareDatetime
    key_id: KeyId
    signature: Signature

    def signed_text(self, tenant_id: str) -> str:
        """The canonical JSON that ``signature`` signs."""
        fields = self.model_dump(mode="json", exclude={"signature"})
        return canonical_json({"tenant_id": tenant_id, **fields})


class AuditChainHead(CompactedPayload):
    """Where a tenant's chain stands: the writer materialises it at start and resumes from it."""

    event_type: ClassVar[str] = "llmops.audit.chain_head.v1"
    topic: ClassVar[str] = "llmops.audit.heads"

    next_sequence: int = Field(ge=0, description="The sequence the next entry gets")
    hash: Sha256Hex = Field(default=GENESIS_HASH, description="The hash of sequence next_sequence - 1")
    source_partition: int = Field(ge=0, description="The llmops.audit.records partition of the last entry chained")
    source_offset: int = Field(ge=-1, description="Its offset: records at or before it are chained already")
    next_digest: int = Field(default=0, ge=0, description="The digest_number of the next digest")
    digested_through: int = Field(default=-1, ge=-1, description="The last sequence a digest covers (-1: none)")
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return "chain"
