"""``llmops.feedback.received.v2``: what an end user or a reviewer said about a call, categorical labels included.

Against v1 (docs/adr/0021) it adds the kind ``label`` (a categorical label such as ``off-topic`` in ``label``,
a new enum value that :mod:`llmops_schemas.compat` refuses in v1) and the optional ``session_id`` of the
conversation; the trace is the envelope's ``trace_id``. A v1 event is a valid v2 event as it is: the upcaster
(:mod:`llmops_schemas.upcasters`) re-validates its payload with :meth:`FeedbackReceived.from_v1`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import feedback as v1
from llmops_schemas.v1.common import Identifier, Labels, MediumText, Name, Slug
from llmops_schemas.v1.feedback import RATING_MAX, CorrectionText, check_kind_fields

__all__ = ["KINDS", "FeedbackReceived"]

FeedbackKind = Literal["thumbs", "rating", "label", "correction", "comment"]
KINDS: tuple[str, ...] = ("thumbs", "rating", "label", "correction", "comment")


class FeedbackReceived(EventPayload):
    """Feedback on one call.

    ``kind`` decides which fields carry it:

    * ``thumbs``: ``value`` is 1 (up) or 0 (down);
    * ``rating``: ``value`` is a whole number of stars from 1 to 5;
    * ``label``: ``label`` is a categorical label, e.g. ``off-topic`` or ``harmful``;
    * ``correction``: ``correction`` is the output the call should have given;
    * ``comment``: ``comment`` is free text.

    Any kind may add a ``comment``. ``feedback_id`` names the feedback: a later event with the same id
    replaces an earlier one for readers (the latest ``given_at`` wins).
    """

    event_type: ClassVar[str] = "llmops.feedback.received.v2"
    topic: ClassVar[str] = "llmops.feedback.received"

    feedback_id: Identifier = Field(description="Idempotency key of this feedback, chosen by the client")
    call_id: Identifier = Field(description="The call the feedback is about (it may not be stored yet)")
    kind: FeedbackKind
    value: float | None = Field(default=None, ge=0, le=RATING_MAX, description="thumbs: 0 or 1; rating: 1 to 5")
    label: Slug | None = Field(default=None, description="label: the categorical label")
    correction: CorrectionText | None = None
    comment: MediumText | None = None
    user_id: Identifier | None = Field(default=None, description="Who gave the feedback, if known")
    session_id: Identifier | None = Field(default=None, description="The conversation the call belongs to, if any")
    source: Name | None = Field(default=None, description="Where it came from, e.g. 'end-user' or 'review-queue'")
    metadata: Labels = Field(default_factory=dict)
    given_at: AwareDatetime

    @classmethod
    def from_v1(cls, old: v1.FeedbackReceived) -> FeedbackReceived:
        """The same feedback as v2 (every v1 payload is one: v2 only adds)."""
        return cls.model_validate(old.model_dump(exclude_unset=True))

    @model_validator(mode="after")
    def _fields_match_kind(self) -> FeedbackReceived:
        if (self.kind == "label") != (self.label is not None):
            raise ValueError("label feedback needs 'label', and only label feedback carries it")
        check_kind_fields(self.kind, self.value, self.correction, self.comment)
        return self
