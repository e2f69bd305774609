"""The bodies and answers of ``/v1/erasures``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from llmops_schemas.v2.erasure import ErasureSubjectType, SubjectValue
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["ErasureAccepted", "ErasureCreate", "ErasureReceipt", "ErasureStatus"]


class ErasureCreate(BaseModel):
    """Erase everything stored about one data subject of the caller's tenant.

    ``subject_type`` says what ``subject_value`` is matched against (docs/governance.md#what-a-subject-matches):
    a call's ``user_id`` or ``session_id``, one ``call_id``, an ``email`` (case-insensitive, in user ids and call
    metadata) or a ``hashed_id`` (the PII engine's keyed hash, e.g. ``[EMAIL:0123456789abcdef]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_type: ErasureSubjectType
    subject_value: SubjectValue
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="Why, e.g. 'GDPR art. 17 request #1234' (no personal data: it is kept with the request)"
    )


class ErasureAccepted(BaseModel):
    """The request is on the log: every service holding personal data erases and answers with a receipt."""

    request_id: str
    status: Literal["accepted"] = "accepted"
    receipts: str = Field(description="Where the receipts are read (GET)")


class ErasureReceipt(BaseModel):
    """One service's receipt: rows or records erased per table or store, and when every copy is gone."""

    service: str
    status: Literal["completed", "failed"]
    counts: dict[str, int]
    rows_affected: int
    purge_deadline: datetime | None = None
    completed_at: datetime
    error: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> ErasureReceipt:
        """From a stored ``llmops.erasure.processed`` payload (v1 receipts have no counts: their total)."""
        counts = data.get("counts") or {data["service"]: data["rows_affected"]}
        fields = {k: data.get(k) for k in ("service", "status", "rows_affected", "purge_deadline", "completed_at")}
        return cls(**fields, counts=counts, error=data.get("error"))


class ErasureStatus(BaseModel):
    """A request and the receipts stored so far: ``completed`` once every service that erases has answered."""

    request_id: str
    status: Literal["pending", "completed", "failed"]
    waiting_for: list[str] = Field(description="Services that erase but have not sent a receipt yet")
    receipts: list[ErasureReceipt]
