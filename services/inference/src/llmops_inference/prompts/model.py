"""The prompt registry's domain: drafts of new versions, immutability, label positions and diffs (pure)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from llmops_schemas.v1 import CallParameters, PromptMessage, PromptVariable, PromptVersionPublished
from llmops_schemas.v1.common import MediumText, Name, Slug
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONTENT_FIELDS",
    "LATEST",
    "LabelPosition",
    "PromptDetail",
    "PromptSummary",
    "PromptVersionDraft",
    "VersionBrief",
    "VersionDiff",
    "diff_versions",
    "same_content",
]

CONTENT_FIELDS = ("template", "variables", "model", "provider", "parameters")
"""What makes a version what it is: two records of one version must agree on these (versions are immutable)."""
LATEST = "latest"
"""A pseudo-label: the newest version, unless the prompt has a real label of that name."""


class PromptVersionDraft(BaseModel):
    """A new version of a prompt, as an API client sends it (the name comes from the path)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: Annotated[list[PromptMessage], Field(min_length=1, max_length=256)]
    variables: Annotated[list[PromptVariable], Field(max_length=128)] = Field(default_factory=list)
    model: Name | None = Field(default=None, description="Model to call when the request names none")
    provider: Name | None = None
    parameters: CallParameters | None = Field(default=None, description="Default sampling parameters")
    description: MediumText | None = Field(default=None, description="What changed in this version and why")
    labels: Annotated[list[Slug], Field(max_length=16)] = Field(
        default_factory=list, description="Labels to move to the new version, e.g. ['staging']"
    )
    version: int | None = Field(
        strict=True,
        default=None,
        ge=1,
        description=(
            "The version number this creates (default: the next one). With it a retry is idempotent, and "
            "a writer that lost a race to another gets 409 instead of silently creating the version after."
        ),
    )


class LabelPosition(BaseModel):
    """Where a label points now and where it pointed before (oldest first)."""

    model_config = ConfigDict(frozen=True)

    label: str
    version: int
    history: list[int] = Field(default_factory=list)
    moved_by: str | None = None
    moved_at: datetime | None = None
    source: Literal["label", "version"] = Field(
        default="label",
        description="'label': from a label_moved record; 'version': only the versions' own labels say so",
    )

    def previous_version(self) -> int | None:
        return self.history[-1] if self.history else None


class VersionBrief(BaseModel):
    """One line of a prompt's version list."""

    version: int
    labels: list[str]
    model: str | None
    description: str | None
    created_by: str
    created_at: datetime


class PromptSummary(BaseModel):
    """One prompt in the list of a tenant's prompts."""

    name: str
    latest_version: int
    versions: int
    labels: dict[str, int]
    updated_at: datetime


class PromptDetail(BaseModel):
    """A prompt: its labels and every version, newest first."""

    name: str
    latest_version: int
    labels: list[LabelPosition]
    versions: list[VersionBrief]


class VersionDiff(BaseModel):
    """How two versions differ: the fields that changed and a unified diff of their text form."""

    name: str
    from_version: int
    to_version: int
    changed: list[str]
    diff: str


def content(version: PromptVersionPublished | PromptVersionDraft) -> dict[str, Any]:
    """The immutable part of a version, as JSON-compatible data."""
    return version.model_dump(mode="json", include=set(CONTENT_FIELDS))


def same_content(
    a: PromptVersionPublished | PromptVersionDraft, b: PromptVersionPublished | PromptVersionDraft
) -> bool:
    return content(a) == content(b)


def diff_versions(old: PromptVersionPublished, new: PromptVersionPublished) -> VersionDiff:
    """The changed content fields and a unified diff (``a/<name>@v<old>`` to ``b/<name>@v<new>``)."""
    before, after = content(old), content(new)
    changed = [name for name in CONTENT_FIELDS if before[name] != after[name]]
    if old.description != new.description:
        changed.append("description")
    lines = difflib.unified_diff(
        as_text(old), as_text(new), f"a/{old.name}@v{old.version}", f"b/{new.name}@v{new.version}", lineterm=""
    )
    return VersionDiff(
        name=new.name, from_version=old.version, to_version=new.version, changed=changed, diff="\n".join(lines)
    )


def as_text(version: PromptVersionPublished) -> list[str]:
    """A version as reviewable lines: settings first, then each message under a ``--- role ---`` rule."""
    lines = [
        f"model: {version.model or '-'}",
        f"provider: {version.provider or '-'}",
        f"parameters: {_parameters(version)}",
        f"description: {version.description or '-'}",
        "variables:",
        *(_variable_line(v) for v in version.variables),
    ]
    for message in version.template:
        lines.append(f"--- {message.role} ---")
        lines.extend(message.content.splitlines() or [""])
    return lines


def _parameters(version: PromptVersionPublished) -> str:
    if version.parameters is None:
        return "-"
    return _compact(version.parameters.model_dump(mode="json", exclude_defaults=True))


def _variable_line(variable: PromptVariable) -> str:
    default = "" if variable.default is None else f" = {_compact(variable.default)}"
    return f"  - {variable.name}{default}"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def briefs(versions: Sequence[PromptVersionPublished], labels_of: dict[int, list[str]]) -> list[VersionBrief]:
    """Version list entries, newest first."""
    return [
        VersionBrief(
            version=v.version,
            labels=labels_of.get(v.version, []),
            model=v.model,
            description=v.description,
            created_by=v.created_by,
            created_at=v.created_at,
        )
        for v in sorted(versions, key=lambda v: v.version, reverse=True)
    ]
