"""``llmops.audit.recorded.v2``: an action someone took on the platform, as the service that did it reports it.

Against v1 (docs/adr/0034) the entry is no longer chained by its producer: every service emits plain
entries on ``llmops.audit.records`` and the governance-audit service, the one writer of the chain, gives each
tenant's entries their sequence and hash on ``llmops.audit.chain`` (:mod:`llmops_schemas.v1.audit_chain`).
v2 drops v1's ``sequence``/``prev_hash``/``hash`` and the actor's ``ip`` and ``user_agent`` (personal data
that an erasure would otherwise have to cut out of the chain), and adds ``before_digest``/``after_digest``:
the SHA-256 of the changed resource's canonical JSON before and after a configuration change, so the chain
proves what changed without holding the configuration itself. The upcaster (:mod:`llmops_schemas.upcasters`)
turns a v1 entry into v2 with :meth:`AuditRecorded.from_v1`.

Entries carry ids, never subject data: a data subject appears only as an id or a salted hash, so erasing a
subject never has to alter a chained entry.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import audit as v1
from llmops_schemas.v1.audit import AuditActor, AuditResource
from llmops_schemas.v1.common import Identifier, Name, Sha256Hex

__all__ = ["AuditOutcome", "AuditRecorded"]

AuditOutcome = Literal["success", "denied", "failure"]


class AuditRecorded(EventPayload):
    """Who (an API key id, a service, the platform) did what to which resource, and whether it succeeded."""

    event_type: ClassVar[str] = "llmops.audit.recorded.v2"
    topic: ClassVar[str] = "llmops.audit.records"

    actor: AuditActor
    action: Name = Field(description="Verb in 'resource.verb' form, e.g. 'prompt.publish' or 'erasure.request'")
    resource: AuditResource
    outcome: AuditOutcome
    request_id: Identifier | None = Field(default=None, description="The request's X-Request-ID, to join logs")
    before_digest: Sha256Hex | None = Field(
        default=None, description="SHA-256 of the resource's canonical JSON before a change (None: it did not exist)"
    )
    after_digest: Sha256Hex | None = Field(
        default=None, description="SHA-256 of the resource's canonical JSON after a change (None: it was deleted)"
    )
    details: Annotated[dict[str, JsonValue], Field(max_length=64)] = Field(
        default_factory=dict, description="Ids and counts that explain the action; never subject data or secrets"
    )
    occurred_at: AwareDatetime

    @classmethod
    def from_v1(cls, old: v1.AuditRecorded) -> AuditRecorded:
        """The same entry without v1's per-process chain fields and the actor's address and user agent."""
        return cls(
            actor=old.actor,
            action=old.action,
            resource=old.resource,
            outcome=old.outcome,
            request_id=old.request_id,
            details=old.details,
            occurred_at=old.occurred_at,
        )
