"""``llmops.feedback.received.v1``: what an end user or a reviewer said about a call."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Identifier, Labels, MediumText, Name

__all__ = ["RATING_MAX", "RATING_MIN", "FeedbackReceived", "check_kind_fields"]

RATING_MIN = 1
RATING_MAX = 5
"""Ratings are whole stars from 1 to 5."""

CorrectionText = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


class FeedbackReceived(EventPayload):
    """Feedback on one call.

    ``kind`` decides which fields carry it:

    * ``thumbs``: ``value`` is 1 (up) or 0 (down);
    * ``rating``: ``value`` is a whole number of stars from 1 to 5;
    * ``correction``: ``correction`` is the output the call should have given;
    * ``comment``: ``comment`` is free text.

    Any kind may add a ``comment``.
    """

    event_type: ClassVar[str] = "llmops.feedback.received.v1"
    topic: ClassVar[str] = "llmops.feedback.received"

    feedback_id: Identifier = Field(description="Idempotency key of this feedback")
    call_id: Identifier = Field(description="The call the feedback is about")
    kind: Literal["thumbs", "rating", "correction", "comment"]
    value: float | None = Field(default=None, ge=0, le=RATING_MAX, description="thumbs: 0 or 1; rating: 1 to 5")
    correction: CorrectionText | None = None
    comment: MediumText | None = None
    user_id: Identifier | None = Field(default=None, description="Who gave the feedback, if known")
    source: Name | None = Field(default=None, description="Where it came from, e.g. 'widget' or 'review-queue'")
    metadata: Labels = Field(default_factory=dict)
    given_at: AwareDatetime

    @model_validator(mode="after")
    def _fields_match_kind(self) -> FeedbackReceived:
        check_kind_fields(self.kind, self.value, self.correction, self.comment)
        return self


def check_kind_fields(kind: str, value: float | None, correction: str | None, comment: str | None) -> None:
    """Which fields each kind carries (every version of the feedback payload shares these rules)."""
    if kind == "thumbs" and value not in (0, 1):
        raise ValueError("thumbs feedback needs value 1 (up) or 0 (down)")
    if kind == "rating" and (value is None or value != int(value) or not RATING_MIN <= value <= RATING_MAX):
        raise ValueError(f"rating feedback needs a whole value from {RATING_MIN} to {RATING_MAX}")
    if kind not in ("thumbs", "rating") and value is not None:
        raise ValueError(f"{kind} feedback carries no value")
    if kind == "correction" and correction is None:
        raise ValueError("correction feedback needs the corrected output in 'correction'")
    if kind != "correction" and correction is not None:
        raise ValueError("only correction feedback carries 'correction'")
    if kind == "comment" and not (comment and comment.strip()):
        raise ValueError("comment feedback needs a non-empty 'comment'")
