"""Review queues: ``llmops.review.queue_configured.v1`` (a queue and the filter that filled it) and
``llmops.review.item_updated.v1`` (one item's whole state after each change), both on compacted topics.

Each change to an item (enqueued, claimed, released, reviewed) publishes the item's full new state under
``<tenant>:<queue>:<item_id>``, so compaction keeps the current state and the warehouse, which keeps every
record, holds the history of every change.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, model_validator

from llmops_schemas.v1.common import CompactedPayload, Identifier, MediumText, ShortText, Slug, StrictModel
from llmops_schemas.v1.feedback import RATING_MAX, RATING_MIN, CorrectionText

__all__ = ["MAX_REVIEWS_PER_ITEM", "ItemAction", "ItemStatus", "Review", "ReviewItemUpdated", "ReviewQueueConfigured"]

MAX_REVIEWS_PER_ITEM = 3
"""How many reviewers may review one item (two or more give an agreement figure)."""

ItemAction = Literal["enqueued", "assigned", "claimed", "released", "reviewed"]
ItemStatus = Literal["open", "done"]


class ReviewQueueConfigured(CompactedPayload):
    """A review queue of a tenant (compacted: the latest record per ``name`` wins).

    ``source`` names how its items were chosen (``low_score``, ``negative_feedback``, ``sample``, ``dataset``;
    the feedback service documents each and its ``params``), so the queue says where its items came from. A
    record with ``deleted`` closes the queue (its items and their reviews stay in the warehouse).
    """

    event_type: ClassVar[str] = "llmops.review.queue_configured.v1"
    topic: ClassVar[str] = "llmops.review.queues"

    name: Slug = Field(description="The queue's name within the tenant")
    description: ShortText | None = None
    source: Slug = Field(description="How the items were chosen, e.g. 'low_score' or 'sample'")
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)
    labels: Annotated[list[Slug], Field(max_length=64)] = Field(
        default_factory=list, description="The labels a reviewer may give; empty: no label is asked for"
    )
    reviews_per_item: int = Field(default=1, ge=1, le=MAX_REVIEWS_PER_ITEM, description="Distinct reviewers per item")
    lock_ttl_s: int = Field(default=900, ge=10, le=86_400, description="How long a claimed item stays locked")
    item_count: int = Field(ge=0, description="How many items the queue was created with")
    deleted: bool = False
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return self.name


class Review(StrictModel):
    """What one reviewer said about one item: at least one of verdict, label, rating or correction."""

    reviewer: Identifier = Field(description="The reviewer's API key id")
    verdict: Literal["approve", "reject"] | None = Field(default=None, description="Whether the answer is good")
    label: Slug | None = None
    rating: int | None = Field(default=None, ge=RATING_MIN, le=RATING_MAX)
    correction: CorrectionText | None = Field(default=None, description="The answer the call should have given")
    comment: MediumText | None = None
    reviewed_at: AwareDatetime

    @model_validator(mode="after")
    def _says_something(self) -> Review:
        if self.verdict is None and self.label is None and self.rating is None and self.correction is None:
            raise ValueError("a review needs a verdict, a label, a rating or a correction")
        return self


class ReviewItemUpdated(CompactedPayload):
    """The state of one item of a review queue after a change (``action``; compacted per item).

    An item is ``open`` until ``reviews_per_item`` distinct reviewers reviewed it, then ``done``. A reviewer
    claims it to review it: ``locked_by`` holds it until ``locked_until`` (a lock past that time is free).
    ``assignee``, when set, is the one reviewer who may claim it next. ``position`` orders the queue: a queue's
    items share one compacted topic of several partitions, so the order records are read in is not the queue's.
    """

    event_type: ClassVar[str] = "llmops.review.item_updated.v1"
    topic: ClassVar[str] = "llmops.review.items"

    queue: Slug
    item_id: Identifier = Field(description="The item's id within the queue (the call id)")
    call_id: Identifier = Field(description="The call under review")
    reason: ShortText | None = Field(default=None, description="Why the filter chose it, e.g. 'relevance 0.2'")
    position: int | None = Field(
        default=None,
        ge=0,
        description="The item's place in its queue, in the order the source picked the items (0 first); items are "
        "handed out by it. Set when the queue is filled and kept by every later change; absent on items enqueued "
        "before it existed, which come after the numbered ones",
    )
    action: ItemAction
    actor: Identifier | None = Field(default=None, description="The API key id that made the change")
    status: ItemStatus
    assignee: Identifier | None = None
    locked_by: Identifier | None = None
    locked_until: AwareDatetime | None = None
    reviews: Annotated[list[Review], Field(max_length=MAX_REVIEWS_PER_ITEM)] = Field(default_factory=list)
    revision: int = Field(ge=0, description="Changes made to the item before this one")
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _lock_is_whole(self) -> ReviewItemUpdated:
        if (self.locked_by is None) != (self.locked_until is None):
            raise ValueError("locked_by and locked_until go together")
        return self

    def entity_key(self) -> str:
        return f"{self.queue}:{self.item_id}"
