"""Rendering chat templates in a sandbox: pure functions, no I/O.

Templates are Jinja2 evaluated by :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with
:class:`jinja2.StrictUndefined`:

* the sandbox refuses attributes starting with ``_`` (``{{ ''.__class__ }}``) and every method that
  mutates (``{{ items.append(1) }}``), so a template cannot reach Python internals or change its inputs;
* ``StrictUndefined`` turns a missing variable into an error instead of an empty string, so a prompt is
  never sent with a hole in it;
* every size is bounded *while* rendering (:mod:`llmops_inference.prompts.sandbox`): no operator, filter,
  method or loop may build a value over :data:`MAX_RENDERED_CHARS` characters or run more than
  :data:`~llmops_inference.prompts.sandbox.MAX_LOOP_ITERATIONS` loop iterations, and the rendered text of a
  message is capped at :data:`MAX_RENDERED_CHARS` as it is produced.

Variable *values* are data, never templates: ``{{ question }}`` with ``question = "{{ secret }}"``
renders the braces literally. Rendering is CPU work: :mod:`llmops_inference.prompts.rendering` runs it off the
event loop (:func:`is_plain` tells the templates cheap enough to render inline).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jinja2
from jinja2 import StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError
from llmops_schemas.v1 import ChatMessage, PromptMessage, PromptVersionPublished

from llmops_inference.prompts.errors import MissingVariables, TemplateError
from llmops_inference.prompts.sandbox import MAX_REPEAT, MAX_VALUE_CHARS, BoundedEnvironment, loop_budget

__all__ = [
    "MAX_RENDERED_CHARS",
    "MAX_REPEAT",
    "declared_values",
    "is_plain",
    "referenced_variables",
    "render_messages",
    "template_problems",
]

MAX_RENDERED_CHARS = MAX_VALUE_CHARS
"""Longest rendered message (the longest message a call record may hold)."""


# trim_blocks/lstrip_blocks: a line holding only a block tag ({% if %}, {% for %}) leaves no blank line behind.
_ENV = BoundedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
)


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    """Compile once per distinct template text (versions are immutable, so the text is a good key)."""
    return _ENV.from_string(source)


PLAIN_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr, nodes.Getitem)
"""What a plain template is made of: text and ``{{ variable }}``, ``{{ a.b }}``, ``{{ a[0] }}``."""


@functools.lru_cache(maxsize=4096)
def is_plain(source: str) -> bool:
    """Whether rendering ``source`` only substitutes values (no loops, filters, calls or operators): its cost is
    that of copying its output, cheaper inline than a hop to a worker thread."""
    try:
        tree = _ENV.parse(source)
    except jinja2.TemplateSyntaxError:
        return False
    return all(isinstance(node, PLAIN_NODES) for node in tree.find_all(nodes.Node))


def referenced_variables(source: str) -> set[str]:
    """Every top-level variable the template reads (``{% set %}`` and loop variables excluded).

    Raises :class:`jinja2.TemplateSyntaxError` when the text does not parse.
    """
    return set(meta.find_undeclared_variables(_ENV.parse(source)))


def template_problems(messages: Sequence[PromptMessage], declared: Iterable[str]) -> list[str]:
    """What is wrong with a template before it is published: syntax errors and undeclared variables."""
    known = set(declared)
    problems: list[str] = []
    for index, message in enumerate(messages):
        try:
            used = referenced_variables(message.content)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"template[{index}] ({message.role}), line {exc.lineno}: {exc.message}")
            continue
        undeclared = sorted(used - known)
        if undeclared:
            problems.append(f"template[{index}] ({message.role}) uses undeclared variables: {', '.join(undeclared)}")
    return problems


def declared_values(version: PromptVersionPublished, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The values to render with (given ones over defaults, declared variables only) and the ignored names.

    Values of variables the version does not declare are ignored rather than refused: a caller that
    passes a variable the production version stopped using must not break when the label moves.
    Raises :class:`MissingVariables` naming every declared variable with neither a value nor a default.
    """
    resolved: dict[str, Any] = {}
    missing: list[str] = []
    for variable in version.variables:
        value = values.get(variable.name)
        if value is None:
            value = variable.default
        if value is None:
            missing.append(variable.name)
        else:
            resolved[variable.name] = value
    if missing:
        raise MissingVariables(version.name, version.version, missing)
    declared = {v.name for v in version.variables}
    return resolved, sorted(set(values) - declared)


def render_messages(version: PromptVersionPublished, values: Mapping[str, Any]) -> list[ChatMessage]:
    """The version's messages rendered with ``values`` (already passed through :func:`declared_values`).

    Raises :class:`MissingVariables` when the template reads something undefined (a variable, or a key
    or attribute of one) and :class:`TemplateError` for anything else the template does wrong.
    """
    return [
        ChatMessage(role=m.role, content=_render_one(version, i, m, values)) for i, m in enumerate(version.template)
    ]


def _render_one(version: PromptVersionPublished, index: int, message: PromptMessage, values: Mapping[str, Any]) -> str:
    where = f"prompt {version.name!r} version {version.version}, template[{index}] ({message.role})"
    try:
        with loop_budget():
            text = _bounded(_compile(message.content).generate(values))
    except jinja2.UndefinedError as exc:
        raise MissingVariables(version.name, version.version, [], detail=f"{where}: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: the sandbox refused it: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{where}: {exc.message or type(exc).__name__}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
    except (RecursionError, MemoryError) as exc:  # a macro calling itself; anything the bounds did not foresee
        raise TemplateError(
            f"{where}: the template is too deep or too large to render ({type(exc).__name__})"
        ) from None
    return text


def _bounded(chunks: Iterable[str]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDERED_CHARS:
            raise SecurityError(f"the rendered message exceeds {MAX_RENDERED_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)
