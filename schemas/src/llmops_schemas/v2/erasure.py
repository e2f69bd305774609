"""Right to erasure, v2: ``llmops.erasure.requested.v2`` and ``llmops.erasure.processed.v2``.

Against v1 (docs/adr/0043):

* a subject is also an ``email`` or a ``hashed_id`` (the keyed hash the PII engine writes in place of an
  identifier, so a subject whose plain identifier was redacted before storage can still be found); a subject
  value is not an :data:`Identifier` any more, since an e-mail address may hold ``+`` and other characters;
* a receipt counts what it erased per table or store (``counts``), says by when every copy is physically gone
  (``purge_deadline``, Kafka's retention included) and repeats the subject's type, so a receipt of zero rows
  for a subject never seen is told from one of a failed request.

A v1 request is a v2 request of one of the v1 subject types; a v1 receipt is a v2 receipt whose one count is
the service's whole ``rows_affected`` (the upcasters in :mod:`llmops_schemas.upcasters`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import erasure as v1
from llmops_schemas.v1.common import Identifier, Name, ShortText

__all__ = ["MAX_COUNTS", "ErasureProcessed", "ErasureRequested", "ErasureSubjectType", "SubjectValue"]

ErasureSubjectType = Literal["user_id", "session_id", "call_id", "email", "hashed_id"]
"""Which stored value the subject matches: the call's user or session, one call, an e-mail address anywhere it is
stored (the user id, metadata, feedback authors), or the PII engine's keyed hash of an identifier."""
SubjectValue = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""The subject's identifier as stored (an e-mail address is at most 320 characters); no control characters."""
MAX_COUNTS = 64


class ErasureRequested(EventPayload):
    """A request to erase everything stored about one subject of the event's tenant.

    The topic keeps requests for a short time only (the subject value is personal data); what outlives them is
    each service's ledger of erased subjects, kept as keyed digests, never as the value itself."""

    event_type: ClassVar[str] = "llmops.erasure.requested.v2"
    topic: ClassVar[str] = "llmops.erasure.requests"

    request_id: Identifier = Field(description="Id that every receipt of this request repeats")
    subject_type: ErasureSubjectType
    subject_value: SubjectValue
    requested_by: Identifier = Field(description="The user or service that asked")
    reason: ShortText = Field(min_length=1, description="Why, e.g. 'GDPR art. 17 request #1234'")
    requested_at: AwareDatetime

    @classmethod
    def from_v1(cls, old: v1.ErasureRequested) -> ErasureRequested:
        """The same request as v2 (every v1 subject type is a v2 one)."""
        return cls.model_validate(old.model_dump())


class ErasureProcessed(EventPayload):
    """One service's receipt for an erasure request: what it erased per table or store, or why it could not."""

    event_type: ClassVar[str] = "llmops.erasure.processed.v2"
    topic: ClassVar[str] = "llmops.erasure.receipts"

    request_id: Identifier
    service: Name = Field(description="The service that did the erasing, e.g. 'warehouse' or 'feedback'")
    subject_type: ErasureSubjectType | None = Field(default=None, description="Repeated from the request (v1: none)")
    status: Literal["completed", "failed"]
    counts: dict[Name, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        max_length=MAX_COUNTS,
        description="Rows or records erased per table or store, zero included (a subject never seen: all zero)",
    )
    rows_affected: int = Field(ge=0, description="The sum of ``counts``")
    purge_deadline: AwareDatetime | None = Field(
        default=None,
        description="When every copy is physically gone: merges of deleted parts and Kafka's retention included",
    )
    error: ShortText | None = None
    completed_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> ErasureProcessed:
        if (self.status == "failed") != (self.error is not None):
            raise ValueError("error is set exactly when status is 'failed'")
        if self.counts and sum(self.counts.values()) != self.rows_affected:
            raise ValueError("rows_affected is the sum of counts")
        return self

    @classmethod
    def from_v1(cls, old: v1.ErasureProcessed) -> ErasureProcessed:
        """A v1 receipt as v2: its whole ``rows_affected`` counted under the service's name."""
        data = old.model_dump()
        data["counts"] = {old.service: old.rows_affected}
        return cls.model_validate(data)
