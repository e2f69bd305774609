"""What the gateway calls to turn a request's prompt reference into messages: pure functions over the store.

* :func:`resolve_prompt` -- ``{"name", "label" | "version", "variables"}`` to rendered messages, the
  version's default model and parameters, and the :class:`PromptRef` to record on the call;
* :func:`resolve_chain` -- several prompts in order, each step's answer (from an injected ``complete``)
  available as a variable to the steps after it.

Everything raises a :class:`~llmops_inference.prompts.errors.PromptError` subclass with an HTTP status
and a precise message; nothing here does I/O except through ``complete``. The tenant always comes from
the caller's API key, never from the request body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Self

from llmops_schemas.v1 import CallParameters, ChatMessage, PromptRef, PromptVersionPublished
from llmops_schemas.v1.common import Slug
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, ValidationError, model_validator

from llmops_inference.prompts.errors import (
    ChainError,
    InvalidSelector,
    PromptError,
    RegistryUnavailable,
    UnknownLabel,
    UnknownPrompt,
    UnknownVersion,
)
from llmops_inference.prompts.model import LATEST
from llmops_inference.prompts.store import PromptStore
from llmops_inference.prompts.templating import declared_values, render_messages

__all__ = [
    "DEFAULT_LABEL",
    "ChainResult",
    "ChainStep",
    "ChainStepResult",
    "Complete",
    "PromptChain",
    "PromptSelector",
    "RenderedPrompt",
    "find_version",
    "parse_chain",
    "parse_selector",
    "render",
    "resolve_chain",
    "resolve_prompt",
]

DEFAULT_LABEL = "production"
"""The label a selector that names neither a label nor a version resolves."""
MAX_CHAIN_STEPS = 16

Variables = Annotated[dict[str, JsonValue], Field(max_length=128)]
VariableName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Complete = Callable[[list[ChatMessage], str | None, CallParameters | None], Awaitable[str]]
"""``complete(messages, model, parameters) -> answer text``: how a chain step gets its answer (the gateway's
own completion path; ``model`` is ``None`` when the step's version names none)."""


class PromptSelector(BaseModel):
    """Which prompt to render, and with what: the ``prompt`` extension field of a chat completion request.

    ``{"name": "support-answer", "label": "production", "variables": {"question": "..."}}``. Give a
    ``label`` or a ``version``, not both; with neither, the ``production`` label is used. The pseudo-label
    ``latest`` is the newest version (unless a real label has that name).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Slug
    label: Slug | None = None
    version: int | None = Field(default=None, ge=1)
    variables: Variables = Field(default_factory=dict)

    @model_validator(mode="after")
    def _label_or_version(self) -> Self:
        if self.label is not None and self.version is not None:
            raise ValueError("give a label or a version, not both")
        return self


class RenderedPrompt(BaseModel):
    """A rendered prompt version: messages to send, its default model and parameters, and its reference."""

    messages: list[ChatMessage]
    model: str | None = None
    provider: str | None = None
    parameters: CallParameters | None = None
    ref: PromptRef
    ignored_variables: list[str] = Field(
        default_factory=list, description="Variables given that this version does not declare (not an error)"
    )


def find_version(
    store: PromptStore, tenant: str, name: str, *, label: str | None = None, version: int | None = None
) -> tuple[PromptVersionPublished, str | None]:
    """The version a label or number selects, and the label used (``None`` when selected by number)."""
    if not store.caught_up:
        raise RegistryUnavailable("the prompt registry is still loading its topic; retry in a moment")
    if not store.exists(tenant, name):
        raise UnknownPrompt(name)
    latest = store.latest(tenant, name)
    if version is not None:
        found = store.version(tenant, name, version)
        if found is None:
            raise UnknownVersion(name, version, latest.version if latest else None)
        return found, None
    label = label or DEFAULT_LABEL
    position = store.label(tenant, name, label)
    if position is None:
        if label == LATEST and latest is not None:
            return latest, None
        raise UnknownLabel(name, label, list(store.labels(tenant, name)))
    found = store.version(tenant, name, position.version)
    if found is None:
        raise UnknownVersion(name, position.version, latest.version if latest else None)
    return found, label


def resolve_prompt(store: PromptStore, tenant: str, selector: PromptSelector) -> RenderedPrompt:
    """Render the selected version of ``selector.name`` for ``tenant`` with ``selector.variables``.

    Raises ``RegistryUnavailable`` (503), ``UnknownPrompt``/``UnknownLabel``/``UnknownVersion`` (404),
    ``MissingVariables`` or ``TemplateError`` (422).
    """
    version, label = find_version(store, tenant, selector.name, label=selector.label, version=selector.version)
    return render(version, selector.variables, label=label)


def render(version: PromptVersionPublished, variables: Mapping[str, Any], *, label: str | None) -> RenderedPrompt:
    """Render one version (the part of :func:`resolve_prompt` after the lookup)."""
    values, ignored = declared_values(version, variables)
    return RenderedPrompt(
        messages=render_messages(version, values),
        model=version.model,
        provider=version.provider,
        parameters=version.parameters,
        ref=PromptRef(name=version.name, version=version.version, label=label),
        ignored_variables=ignored,
    )


# --- chains ------------------------------------------------------------------------------------------


class ChainStep(BaseModel):
    """One step of a chain: a prompt, and the variable name its answer is given to later steps under."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: VariableName
    prompt: PromptSelector


class PromptChain(BaseModel):
    """Prompts rendered in order; step *n* reads the chain's ``variables`` and the outputs of steps before it.

    A step's own ``prompt.variables`` win over both (they are the most specific).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: Annotated[list[ChainStep], Field(min_length=1, max_length=MAX_CHAIN_STEPS)]
    variables: Variables = Field(default_factory=dict)

    @model_validator(mode="after")
    def _outputs_are_distinct(self) -> Self:
        outputs = [step.output for step in self.steps]
        duplicated = sorted({o for o in outputs if outputs.count(o) > 1})
        if duplicated:
            raise ValueError(f"step outputs must be distinct: {', '.join(duplicated)}")
        shadowing = sorted(set(outputs) & set(self.variables))
        if shadowing:
            raise ValueError(f"step outputs may not shadow chain variables: {', '.join(shadowing)}")
        return self


class ChainStepResult(BaseModel):
    """A completed step: what was sent and what came back."""

    output: str
    rendered: RenderedPrompt
    text: str


class ChainResult(BaseModel):
    """The completed steps; with ``complete_last=False`` the last step is only rendered (``final``)."""

    steps: list[ChainStepResult]
    final: RenderedPrompt | None = None

    @property
    def output(self) -> str | None:
        """The answer of the last completed step."""
        return self.steps[-1].text if self.steps else None


async def resolve_chain(
    store: PromptStore, tenant: str, chain: PromptChain, complete: Complete, *, complete_last: bool = True
) -> ChainResult:
    """Render and complete ``chain``'s steps in order, feeding each answer to the steps after it.

    With ``complete_last=False`` the last step is rendered but not completed, so the gateway can send it
    as the request's own call (streamed, recorded, subject to experiments) and return its answer.
    A step that fails to resolve raises its ``PromptError`` with ``step`` (index) and ``output`` added.
    """
    context: dict[str, Any] = dict(chain.variables)
    done: list[ChainStepResult] = []
    for index, step in enumerate(chain.steps):
        rendered = _render_step(store, tenant, index, step, context)
        if index == len(chain.steps) - 1 and not complete_last:
            return ChainResult(steps=done, final=rendered)
        text = await complete(rendered.messages, rendered.model, rendered.parameters)
        done.append(ChainStepResult(output=step.output, rendered=rendered, text=text))
        context[step.output] = text
    return ChainResult(steps=done)


def _render_step(
    store: PromptStore, tenant: str, index: int, step: ChainStep, context: Mapping[str, Any]
) -> RenderedPrompt:
    selector = step.prompt
    try:
        version, label = find_version(store, tenant, selector.name, label=selector.label, version=selector.version)
        return render(version, {**context, **selector.variables}, label=label)
    except RegistryUnavailable:
        raise
    except PromptError as exc:
        exc.detail = f"chain step {index} ({step.output!r}): {exc.detail}"
        exc.extensions.update(step=index, output=step.output)
        raise


def parse_selector(data: Any) -> PromptSelector:
    """The request's ``prompt`` extension as a selector; ``InvalidSelector`` (422) says what is wrong."""
    try:
        return PromptSelector.model_validate(data)
    except ValidationError as exc:
        raise InvalidSelector(f"invalid 'prompt' field: {describe(exc)}") from None


def parse_chain(data: Any) -> PromptChain:
    """A request's chain definition; ``ChainError`` (422) says what is wrong."""
    try:
        return PromptChain.model_validate(data)
    except ValidationError as exc:
        raise ChainError(f"invalid chain: {describe(exc)}") from None


def describe(error: ValidationError) -> str:
    """Pydantic's errors as one line: ``loc: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors(include_url=False, include_input=False)
    )
