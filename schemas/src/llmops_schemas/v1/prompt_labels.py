"""``llmops.prompt.label_moved.v1``: where a prompt's label (``production``, ``staging``, ...) points now.

A label move is its own fact, on the same compacted topic as the versions (``llmops.prompts.versions``)
but under its own key, ``<tenant>:<name>:label:<label>``, so compaction keeps the latest position of
every label next to every version. The record carries the label's earlier positions (``history``), so a
rollback ("back to where it was before") still works after compaction has dropped the older records.
The affected versions are also republished with their new ``labels`` (see ``PromptVersionPublished``);
this record is the authority when the two disagree.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.v1.common import CompactedPayload, Identifier, MediumText, Slug

__all__ = ["MAX_LABEL_HISTORY", "PromptLabelMoved"]

MAX_LABEL_HISTORY = 100
"""Earlier positions a label record keeps; the oldest are dropped first."""


class PromptLabelMoved(CompactedPayload):
    """A label of a prompt now points at ``version``; ``history`` lists where it pointed before, oldest first."""

    event_type: ClassVar[str] = "llmops.prompt.label_moved.v1"
    topic: ClassVar[str] = "llmops.prompts.versions"

    name: Slug = Field(description="The prompt's name")
    label: Slug = Field(description="The label, e.g. 'production'")
    version: int = Field(ge=1, description="The version the label points at from now on")
    history: Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=MAX_LABEL_HISTORY)] = Field(
        default_factory=list,
        description="Versions the label pointed at before, oldest first; a rollback returns to the last one",
    )
    action: Literal["move", "rollback"] = Field(default="move", description="How the label got here")
    reason: MediumText | None = None
    moved_by: Identifier
    moved_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> PromptLabelMoved:
        if self.history and self.history[-1] == self.version:
            raise ValueError("the last entry of history is where the label pointed before, not where it points now")
        return self

    def entity_key(self) -> str:
        return f"{self.name}:label:{self.label}"

    def previous_version(self) -> int | None:
        """Where a rollback would take the label (``None`` when it has never pointed anywhere else)."""
        return self.history[-1] if self.history else None
