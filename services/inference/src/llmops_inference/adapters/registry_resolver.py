"""The prompt-registry seam over the materialised :class:`~llmops_inference.prompts.store.PromptStore`.

A chat request that carries the ``prompt`` extension field (``{"name", "label" | "version", "variables"}``)
gets its ``messages`` rendered from the selected version; the version's sampling parameters fill what the
request leaves unset (the request's own values always win; ``model`` is required by the API, so the request's
model is used). The registry's typed errors become OpenAI-shaped :class:`~llmops_inference.errors.GatewayError`
(404 unknown prompt/label/version, 422 missing variables or a bad selector, 503 while the topic loads or while
too many renders are in progress). Templates are rendered by a :class:`~llmops_inference.prompts.rendering.RenderPool`,
off the event loop.

A request's ``chain`` field is parsed and checked by :meth:`RegistryResolver.chain` (every step's prompt exists
and gets its variables) before the gateway sends any step; each step then comes back through
:meth:`RegistryResolver.resolve` as a single-prompt request (see :mod:`llmops_inference.chains`).
"""

from __future__ import annotations

from typing import Any

from llmops_schemas.v1 import CallParameters

from llmops_inference.api_models import (
    CHAIN_FIELD,
    PROMPT_FIELD,
    SAMPLING_FIELDS,
    ChatCompletionRequest,
    ChatMessageIn,
)
from llmops_inference.errors import GatewayError
from llmops_inference.ports import CallContext, Resolved
from llmops_inference.prompts.errors import ChainError, PromptError
from llmops_inference.prompts.rendering import RenderPool
from llmops_inference.prompts.resolve import (
    MAX_CHAIN_STEPS,
    PromptChain,
    RenderedPrompt,
    check_chain,
    find_version,
    parse_chain,
    parse_selector,
)
from llmops_inference.prompts.store import PromptStore

__all__ = ["RegistryResolver", "gateway_error"]

RETRY_AFTER_S = 1.0
"""``Retry-After`` of a 503 while the registry reads its topic (it is up to date within seconds of a start)."""


def gateway_error(error: PromptError, *, field: str = PROMPT_FIELD) -> GatewayError:
    """A registry error in OpenAI's shape, keeping its status, message, code and ``param`` (else ``field``, the
    request field that named the prompt); a 503 says when to retry."""
    kind = "server_error" if error.status >= 500 else "invalid_request_error"
    code = error.extensions.get("code")
    param = str(error.extensions.get("param") or field)
    retry_after = RETRY_AFTER_S if error.status == 503 else None
    return GatewayError(
        error.status,
        error.detail,
        type=kind,
        param=param,
        code=str(code) if code else None,
        retry_after=retry_after,
    )


class RegistryResolver:
    """A :class:`~llmops_inference.ports.PromptResolver` rendering registry prompts (no I/O per request)."""

    def __init__(
        self, store: PromptStore, *, max_chain_steps: int = MAX_CHAIN_STEPS, renderer: RenderPool | None = None
    ) -> None:
        self.store = store
        self.max_chain_steps = max_chain_steps
        self.renderer = renderer or RenderPool()

    def chain(self, request: ChatCompletionRequest, context: CallContext) -> PromptChain | None:
        """The request's ``chain``, checked against the registry; ``None`` when it sends none."""
        extra = request.model_extra or {}
        data = extra.get(CHAIN_FIELD)
        if data is None:
            return None
        try:
            if extra.get(PROMPT_FIELD) is not None:
                raise ChainError("give either 'prompt' or 'chain', not both", param=CHAIN_FIELD)
            chain = parse_chain(data, max_steps=self.max_chain_steps)
            check_chain(self.store, context.tenant_id, chain)
        except PromptError as exc:
            raise gateway_error(exc, field=CHAIN_FIELD) from None
        return chain

    async def resolve(self, request: ChatCompletionRequest, context: CallContext) -> Resolved:
        extra = request.model_extra or {}
        data = extra.get(PROMPT_FIELD)
        if data is None:
            return Resolved(request=request)
        try:
            selector = parse_selector(data)
            # The lookup reads the store on the loop (the materialiser writes it there); the render may go off it.
            version, label = find_version(
                self.store, context.tenant_id, selector.name, label=selector.label, version=selector.version
            )
            rendered = await self.renderer.render(version, selector.variables, label=label)
        except PromptError as exc:
            raise gateway_error(exc) from None
        return Resolved(request=apply_rendered(request, rendered), prompt=rendered.ref)


def apply_rendered(request: ChatCompletionRequest, rendered: RenderedPrompt) -> ChatCompletionRequest:
    """The request with the rendered messages (before any the caller sent) and the version's defaults."""
    # name only when it has one: the messages are forwarded as set, and an explicit null is not a name.
    messages = [
        ChatMessageIn(role=m.role, content=m.content, **({"name": m.name} if m.name is not None else {}))
        for m in rendered.messages
    ]
    update: dict[str, Any] = {"messages": [*messages, *request.messages]}
    update.update(missing_parameters(request, rendered.parameters))
    return request.model_copy(update=update)


def missing_parameters(request: ChatCompletionRequest, parameters: CallParameters | None) -> dict[str, Any]:
    """The version's parameters the request does not set itself."""
    if parameters is None:
        return {}
    values: dict[str, Any] = {}
    for name in SAMPLING_FIELDS:
        value = getattr(parameters, name)
        if value is not None and getattr(request, name) is None:
            values[name] = value
    if "max_tokens" in values and request.max_completion_tokens is not None:
        del values["max_tokens"]
    return values
