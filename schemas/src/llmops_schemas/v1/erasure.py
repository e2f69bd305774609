"""Right to erasure: ``llmops.erasure.requested.v1`` asks every service holding personal data to erase
a subject's data; each service answers with ``llmops.erasure.processed.v1``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Identifier, Name, ShortText

__all__ = ["ErasureProcessed", "ErasureRequested", "ErasureSubjectType"]

ErasureSubjectType = Literal["user_id", "session_id", "call_id"]
"""Which field of the stored data the subject value matches."""


class ErasureRequested(EventPayload):
    """A request to erase everything stored about one subject (a user, a session or a call)."""

    event_type: ClassVar[str] = "llmops.erasure.requested.v1"
    topic: ClassVar[str] = "llmops.erasure.requests"

    request_id: Identifier = Field(description="Id that every receipt of this request repeats")
    subject_type: ErasureSubjectType
    subject_value: Identifier
    requested_by: Identifier = Field(description="The user or service that asked")
    reason: ShortText = Field(min_length=1, description="Why, e.g. 'GDPR art. 17 request #1234'")
    requested_at: AwareDatetime


class ErasureProcessed(EventPayload):
    """One service's receipt for an erasure request: what it erased, or why it could not."""

    event_type: ClassVar[str] = "llmops.erasure.processed.v1"
    topic: ClassVar[str] = "llmops.erasure.receipts"

    request_id: Identifier
    service: Name = Field(description="The service (and store) that did the erasing, e.g. 'warehouse'")
    status: Literal["completed", "failed"]
    rows_affected: int = Field(ge=0, description="Records erased (0 when none were found)")
    error: ShortText | None = None
    completed_at: AwareDatetime

    @model_validator(mode="after")
    def _error_iff_failed(self) -> ErasureProcessed:
        if (self.status == "failed") != (self.error is not None):
            raise ValueError("error is set exactly when status is 'failed'")
        return self
