"""What the gateway calls to turn a request's prompt reference into messages: pure functions over the store.

* :func:`resolve_prompt` -- ``{"name", "label" | "version", "variables"}`` to rendered messages, the
  version's default model and parameters, and the :class:`PromptRef` to record on the call;
* :func:`parse_chain` and :func:`check_chain` -- a request's ``chain`` field, refused (naming the step)
  before any step is sent when a step's prompt, label or version is unknown or a variable has no value;
* :func:`resolve_chain` -- the steps before the last in order, each step's answer (from an injected
  ``complete``) a variable of the steps after it; the last step's selector is the caller's to send.

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
    "MAX_CHAIN_STEPS",
    "ChainStep",
    "Complete",
    "PromptChain",
    "PromptSelector",
    "RenderedPrompt",
    "check_chain",
    "find_version",
    "parse_chain",
    "parse_selector",
    "render",
    "resolve_chain",
    "resolve_prompt",
    "step_name",
    "step_selector",
]

DEFAULT_LABEL = "production"
"""The label a selector that names neither a label nor a version resolves."""
MAX_CHAIN_STEPS = 16
"""The most steps a chain may have (the gateway's ``INFERENCE_MAX_CHAIN_STEPS`` may allow fewer)."""

Variables = Annotated[dict[str, JsonValue], Field(max_length=128)]
VariableName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class PromptSelector(BaseModel):
    """Which prompt to render, and with what: the ``prompt`` extension field of a chat completion request.

    ``{"name": "support-answer", "label": "production", "variables": {"question": "..."}}``. Give a
    ``label`` or a ``version``, not both; with neither, the ``production`` label is used. The pseudo-label
    ``latest`` is the newest version (unless a real label has that name).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Slug
    label: Slug | None = None
    version: int | None = Field(strict=True, default=None, ge=1)
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


Complete = Callable[[int, PromptSelector], Awaitable[str]]
"""``complete(index, selector) -> answer text``: how a chain step before the last gets its answer (the gateway
sends the selector as a single-prompt call of its own)."""


def step_name(index: int, output: str) -> str:
    """How an error names a chain step: ``chain step 1 ('answer')``."""
    return f"chain step {index} ({output!r})"


def step_selector(chain: PromptChain, index: int, answers: Mapping[str, str]) -> PromptSelector:
    """Step ``index``'s selector with every variable it may read: the chain's, the answers, then its own."""
    step = chain.steps[index]
    return step.prompt.model_copy(update={"variables": {**chain.variables, **answers, **step.prompt.variables}})


async def resolve_chain(chain: PromptChain, complete: Complete) -> PromptSelector:
    """Complete the steps before the last in order, each answer a variable of the steps after it, and return
    the last step's selector: the caller sends it as the request's own call (streamed, if asked).
    """
    answers: dict[str, str] = {}
    for index, step in enumerate(chain.steps[:-1]):
        answers[step.output] = await complete(index, step_selector(chain, index, answers))
    return step_selector(chain, len(chain.steps) - 1, answers)


def check_chain(store: PromptStore, tenant: str, chain: PromptChain) -> None:
    """Refuse a chain before any step is sent: each step's prompt, label or version exists, and each variable
    it declares gets a value (a default, the chain's or the step's variables, or an earlier step's answer).

    Templates are not rendered (the answers are not known yet). Raises the step's ``PromptError`` (404, 422)
    with the step named in ``detail`` and ``step``, ``output`` and ``param`` added; ``RegistryUnavailable``
    (503) as it is.
    """
    answers: dict[str, str] = {}
    for index, step in enumerate(chain.steps):
        selector = step_selector(chain, index, answers)
        try:
            version, _ = find_version(store, tenant, selector.name, label=selector.label, version=selector.version)
            declared_values(version, selector.variables)
        except RegistryUnavailable:
            raise
        except PromptError as exc:
            exc.detail = f"{step_name(index, step.output)}: {exc.detail}"
            exc.extensions.update(step=index, output=step.output, param=f"chain.steps.{index}.prompt")
            raise
        answers[step.output] = ""


def parse_selector(data: Any) -> PromptSelector:
    """The request's ``prompt`` extension as a selector; ``InvalidSelector`` (422) says what is wrong."""
    try:
        return PromptSelector.model_validate(data)
    except ValidationError as exc:
        raise InvalidSelector(f"invalid 'prompt' field: {describe(exc)}") from None


def parse_chain(data: Any, *, max_steps: int = MAX_CHAIN_STEPS) -> PromptChain:
    """A request's chain of at most ``max_steps`` steps; ``ChainError`` (422) says what is wrong and its
    ``param`` where (``chain.steps.0.output``).
    """
    steps = data.get("steps") if isinstance(data, dict) else None
    if isinstance(steps, list) and len(steps) > max_steps:
        detail = f"invalid chain: steps: at most {max_steps} steps are allowed, not {len(steps)}"
        raise ChainError(detail, param="chain.steps")
    try:
        return PromptChain.model_validate(data)
    except ValidationError as exc:
        where = exc.errors(include_url=False)[0]["loc"]
        raise ChainError(f"invalid chain: {describe(exc)}", param=".".join(["chain", *map(str, where)])) from None


def describe(error: ValidationError) -> str:
    """Pydantic's errors as one line: ``loc: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors(include_url=False, include_input=False)
    )
