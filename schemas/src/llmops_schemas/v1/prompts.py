"""``llmops.prompt.version_published.v1``: one version of a registered prompt template.

The topic is compacted and keyed by ``<tenant>:<name>:<version>``, so it holds every version of every
prompt. A version's template never changes; when a label (``production``, ``staging``) moves, the
registry republishes the affected versions with their new ``labels``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from llmops_schemas.v1.calls import CallParameters, ChatMessage
from llmops_schemas.v1.common import CompactedPayload, Identifier, MediumText, Name, Slug, StrictModel

__all__ = ["PLACEHOLDER_PATTERN", "PromptMessage", "PromptVariable", "PromptVersionPublished", "PromptVersionRef"]

PLACEHOLDER_PATTERN = r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
"""A ``{{ variable }}`` placeholder in a template message; spaces inside the braces are optional."""
_PLACEHOLDER_RE = re.compile(PLACEHOLDER_PATTERN)

VariableName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
TemplateText = Annotated[str, StringConstraints(max_length=100_000)]


class PromptMessage(StrictModel):
    """One message of a template; ``content`` may contain ``{{ variable }}`` placeholders."""

    role: Literal["system", "user", "assistant", "developer"]
    content: TemplateText

    def placeholders(self) -> list[str]:
        """The variable names this message refers to, in order of appearance."""
        return _PLACEHOLDER_RE.findall(self.content)


class PromptVariable(StrictModel):
    """A declared template variable; one without a ``default`` must be supplied when rendering."""

    name: VariableName
    description: MediumText | None = None
    default: TemplateText | None = None


class PromptVersionRef(StrictModel):
    """A pointer to one prompt version (the version this one was derived from)."""

    name: Slug
    version: int = Field(ge=1)


class PromptVersionPublished(CompactedPayload):
    """A prompt version: its chat template, variables, default model and parameters, and labels."""

    event_type: ClassVar[str] = "llmops.prompt.version_published.v1"
    topic: ClassVar[str] = "llmops.prompts.versions"

    name: Slug = Field(description="The prompt's name, unique per tenant")
    version: int = Field(ge=1, description="1 for the first version, then +1 per version")
    template: Annotated[list[PromptMessage], Field(min_length=1, max_length=256)]
    variables: Annotated[list[PromptVariable], Field(max_length=128)] = Field(default_factory=list)
    model: Name | None = Field(default=None, description="Model to call by default")
    provider: Name | None = None
    parameters: CallParameters | None = None
    labels: Annotated[list[Slug], Field(max_length=16)] = Field(
        default_factory=list, description="Labels pointing at this version now, e.g. 'production'"
    )
    description: MediumText | None = Field(default=None, description="What changed in this version and why")
    parent: PromptVersionRef | None = Field(default=None, description="The version this one was derived from")
    created_by: Identifier
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> PromptVersionPublished:
        declared = [v.name for v in self.variables]
        if len(set(declared)) != len(declared):
            raise ValueError("variable names must be unique")
        undeclared = sorted(set(self.placeholders()) - set(declared))
        if undeclared:
            raise ValueError(f"template uses undeclared variables: {', '.join(undeclared)}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        if self.parent is not None and self.parent.name == self.name and self.parent.version >= self.version:
            raise ValueError("a parent version of the same prompt must be older than this version")
        return self

    def entity_key(self) -> str:
        return f"{self.name}:{self.version}"

    def ref(self) -> PromptVersionRef:
        """A pointer to this version."""
        return PromptVersionRef(name=self.name, version=self.version)

    def placeholders(self) -> list[str]:
        """Every variable name the template refers to, each once, in order of first appearance."""
        return list(dict.fromkeys(name for message in self.template for name in message.placeholders()))

    def render(self, values: Mapping[str, str]) -> list[ChatMessage]:
        """The template's messages with every placeholder replaced by its value or default.

        Raises ``KeyError`` naming the variables that have neither a value nor a default, and
        ``ValueError`` for values of undeclared variables.
        """
        declared = {v.name: v for v in self.variables}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ValueError(f"values given for undeclared variables: {', '.join(unknown)}")
        resolved = {name: values.get(name, var.default) for name, var in declared.items()}
        missing = sorted(name for name, value in resolved.items() if value is None)
        if missing:
            raise KeyError(f"no value for variables: {', '.join(missing)}")

        def substitute(match: re.Match[str]) -> str:
            return resolved[match.group(1)] or ""

        return [ChatMessage(role=m.role, content=_PLACEHOLDER_RE.sub(substitute, m.content)) for m in self.template]
