"""The prompt-registry seam over the materialised :class:`~llmops_inference.prompts.store.PromptStore`.

A chat request that carries the ``prompt`` extension field (``{"name", "label" | "version", "variables"}``)
gets its ``messages`` rendered from the selected version; the version's sampling parameters fill what the
request leaves unset (the request's own values always win; ``model`` is required by the API, so the request's
model is used). The registry's typed errors become OpenAI-shaped :class:`~llmops_inference.errors.GatewayError`
(404 unknown prompt/label/version, 422 missing variables or a bad selector, 503 while the topic loads).

A request with a ``chain`` field is refused (422): chains are resolved by the prompt API, not in the gateway yet.
"""

from __future__ import annotations

from typing import Any

from llmops_schemas.v1 import CallParameters

from llmops_inference.api_models import ChatCompletionRequest, ChatMessageIn
from llmops_inference.errors import GatewayError
from llmops_inference.ports import CallContext, Resolved
from llmops_inference.prompts.errors import PromptError
from llmops_inference.prompts.resolve import RenderedPrompt, parse_selector, resolve_prompt
from llmops_inference.prompts.store import PromptStore

__all__ = ["PROMPT_FIELD", "RegistryResolver", "gateway_error"]

PROMPT_FIELD = "prompt"
CHAIN_FIELD = "chain"
_PARAMETERS = ("temperature", "top_p", "max_tokens", "stop", "seed")


def gateway_error(error: PromptError) -> GatewayError:
    """A registry error in OpenAI's shape, keeping its status, message and code."""
    kind = "server_error" if error.status >= 500 else "invalid_request_error"
    code = error.extensions.get("code")
    return GatewayError(error.status, error.detail, type=kind, param=PROMPT_FIELD, code=str(code) if code else None)


class RegistryResolver:
    """A :class:`~llmops_inference.ports.PromptResolver` rendering registry prompts (no I/O per request)."""

    def __init__(self, store: PromptStore) -> None:
        self.store = store

    async def resolve(self, request: ChatCompletionRequest, context: CallContext) -> Resolved:
        extra = request.model_extra or {}
        if extra.get(CHAIN_FIELD) is not None:
            raise GatewayError(
                422, "prompt chains are not supported on chat completions", param=CHAIN_FIELD, code="unsupported"
            )
        data = extra.get(PROMPT_FIELD)
        if data is None:
            return Resolved(request=request)
        try:
            rendered = resolve_prompt(self.store, context.tenant_id, parse_selector(data))
        except PromptError as exc:
            raise gateway_error(exc) from None
        return Resolved(request=apply_rendered(request, rendered), prompt=rendered.ref)


def apply_rendered(request: ChatCompletionRequest, rendered: RenderedPrompt) -> ChatCompletionRequest:
    """The request with the rendered messages (before any the caller sent) and the version's defaults."""
    messages = [ChatMessageIn(role=m.role, content=m.content, name=m.name) for m in rendered.messages]
    update: dict[str, Any] = {"messages": [*messages, *request.messages]}
    update.update(missing_parameters(request, rendered.parameters))
    return request.model_copy(update=update)


def missing_parameters(request: ChatCompletionRequest, parameters: CallParameters | None) -> dict[str, Any]:
    """The version's parameters the request does not set itself."""
    if parameters is None:
        return {}
    values: dict[str, Any] = {}
    for name in _PARAMETERS:
        value = getattr(parameters, name)
        if value is not None and getattr(request, name) is None:
            values[name] = value
    if "max_tokens" in values and request.max_completion_tokens is not None:
        del values["max_tokens"]
    return values
