"""``llmops.audit.recorded.v1``: one entry of the tamper-evident audit trail.

Entries of a tenant form a hash chain: ``hash`` is the SHA-256 of the entry's canonical JSON (every
field but ``hash``, fields at their default left out, keys sorted, no whitespace), and ``prev_hash`` is
the ``hash`` of the entry with the previous ``sequence`` (64 zeros for the first entry). Changing,
removing or reordering an entry breaks every later link. Leaving default-valued fields out keeps old
hashes valid when an optional field is added to this version later; it also means that a field's
default must never change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, IPvAnyAddress, JsonValue

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Identifier, Name, Sha256Hex, ShortText, StrictModel

__all__ = ["GENESIS_HASH", "AuditActor", "AuditRecorded", "AuditResource", "canonical_hash"]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry of a chain."""


class AuditActor(StrictModel):
    """Who did it: a person, a service, an API key, or the platform itself."""

    type: Literal["user", "service", "api_key", "system"]
    id: Identifier


class AuditResource(StrictModel):
    """What it was done to, e.g. ``prompt`` ``support-answer``."""

    type: Name
    id: Identifier


class AuditRecorded(EventPayload):
    """An action someone took on the platform, whether it succeeded, and its place in the hash chain."""

    event_type: ClassVar[str] = "llmops.audit.recorded.v1"
    topic: ClassVar[str] = "llmops.audit.records"

    sequence: int = Field(ge=0, description="Position in the tenant's chain, from 0 without gaps")
    actor: AuditActor
    action: Name = Field(description="Verb in 'resource.verb' form, e.g. 'prompt.publish' or 'erasure.request'")
    resource: AuditResource
    outcome: Literal["success", "denied", "failure"]
    request_id: Identifier | None = None
    ip: IPvAnyAddress | None = None
    user_agent: ShortText | None = None
    details: Annotated[dict[str, JsonValue], Field(max_length=64)] = Field(default_factory=dict)
    occurred_at: AwareDatetime
    prev_hash: Sha256Hex
    hash: Sha256Hex

    def expected_hash(self) -> str:
        """The hash this entry must carry given its other fields (see the module docstring)."""
        return canonical_hash(self.model_dump(mode="json", exclude={"hash"}, exclude_defaults=True))

    def verify(self, previous: AuditRecorded | None) -> bool:
        """Whether this entry is intact and follows ``previous`` (``None`` for the first entry).

        Only a reader that knows every field the writer set can verify: a tolerant reader of an older
        version drops unknown fields and computes another hash.
        """
        if previous is None:
            link_ok = self.sequence == 0 and self.prev_hash == GENESIS_HASH
        else:
            link_ok = self.sequence == previous.sequence + 1 and self.prev_hash == previous.hash
        return link_ok and self.hash == self.expected_hash()

    @classmethod
    def chained(cls, previous: AuditRecorded | None, **fields: object) -> AuditRecorded:
        """A new entry after ``previous`` with ``sequence``, ``prev_hash`` and ``hash`` filled in."""
        sequence = 0 if previous is None else previous.sequence + 1
        prev_hash = GENESIS_HASH if previous is None else previous.hash
        draft = cls.model_validate({**fields, "sequence": sequence, "prev_hash": prev_hash, "hash": GENESIS_HASH})
        return draft.model_copy(update={"hash": draft.expected_hash()})


def canonical_hash(fields: dict[str, JsonValue]) -> str:
    """SHA-256 (hex) of ``fields`` as canonical JSON: keys sorted, no whitespace, UTF-8."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
