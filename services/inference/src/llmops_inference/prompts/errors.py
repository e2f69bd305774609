"""Typed errors of the prompt registry: each carries its HTTP status and a message that says exactly what is wrong.

They are :class:`~llmops_kit.http.problems.ProblemError` subclasses, so a route that lets one escape answers
with an RFC 9457 problem document (``status``, ``title``, ``detail`` and the extensions below). The gateway's
OpenAI-compatible handlers may catch :class:`PromptError` and use ``status`` and ``detail`` in their own error
shape instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from llmops_kit.http.problems import ProblemError

__all__ = [
    "ChainError",
    "InvalidPrompt",
    "InvalidSelector",
    "LabelHasNoHistory",
    "MissingVariables",
    "PromptError",
    "RegistryUnavailable",
    "TemplateError",
    "UnknownLabel",
    "UnknownPrompt",
    "UnknownVersion",
    "VersionConflict",
]


class PromptError(ProblemError):
    """Base of every prompt registry error."""

    status_code: ClassVar[int] = 422
    title_text: ClassVar[str] = "Unprocessable Content"
    code: ClassVar[str] = "prompt_error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(self.status_code, self.title_text, detail, code=self.code, **extensions)


class RegistryUnavailable(PromptError):
    """The registry has not finished loading its topic yet (or cannot publish): try again shortly."""

    status_code = 503
    title_text = "Service Unavailable"
    code = "registry_unavailable"


class UnknownPrompt(PromptError):
    """No prompt of that name exists for the caller's tenant."""

    status_code = 404
    title_text = "Not Found"
    code = "unknown_prompt"

    def __init__(self, name: str) -> None:
        super().__init__(f"no prompt named {name!r}", prompt=name)


class UnknownVersion(PromptError):
    """The prompt exists, the version does not."""

    status_code = 404
    title_text = "Not Found"
    code = "unknown_version"

    def __init__(self, name: str, version: int, latest: int | None) -> None:
        known = f"versions are 1 to {latest}" if latest else "it has no versions"
        super().__init__(f"prompt {name!r} has no version {version} ({known})", prompt=name, version=version)


class UnknownLabel(PromptError):
    """The prompt exists, but no such label points at any of its versions."""

    status_code = 404
    title_text = "Not Found"
    code = "unknown_label"

    def __init__(self, name: str, label: str, known: Sequence[str]) -> None:
        labels = ", ".join(sorted(known)) if known else "none"
        super().__init__(f"prompt {name!r} has no label {label!r} (its labels: {labels})", prompt=name, label=label)


class MissingVariables(PromptError):
    """Rendering needs variables the request did not give and that have no default."""

    code = "missing_variables"

    def __init__(self, name: str, version: int, missing: Sequence[str], detail: str | None = None) -> None:
        self.missing = list(missing)
        text = detail or f"prompt {name!r} version {version} needs variables: {', '.join(self.missing)}"
        super().__init__(text, prompt=name, version=version, missing=self.missing)


class TemplateError(PromptError):
    """The template could not be rendered: unsafe attribute access, a syntax error, an oversized result."""

    code = "template_error"


class InvalidPrompt(PromptError):
    """A new version was refused: its template does not parse, or uses undeclared variables, or fails validation."""

    code = "invalid_prompt"


class InvalidSelector(PromptError):
    """A request's ``prompt`` field is malformed (no name, a label and a version, a bad variables map)."""

    code = "invalid_prompt_selector"


class VersionConflict(PromptError):
    """The version exists with other content (versions are immutable), or another writer got there first."""

    status_code = 409
    title_text = "Conflict"
    code = "version_conflict"


class LabelHasNoHistory(PromptError):
    """A rollback of a label that never pointed anywhere else."""

    status_code = 409
    title_text = "Conflict"
    code = "label_has_no_history"


class ChainError(PromptError):
    """A request's ``chain`` is malformed: too many steps, duplicate or shadowing step outputs, a bad field, or
    sent together with ``prompt``; ``param`` (an extension) says where, e.g. ``chain.steps.0.output``."""

    code = "invalid_chain"
