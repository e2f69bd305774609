"""The gateway's use cases: a chat completion (or a prompt chain of them), a text completion, embeddings.

Each takes a validated request and the caller's :class:`~llmops_inference.ports.CallContext` and returns
OpenAI's JSON body or, for ``stream: true``, the server-sent events. HTTP lives in ``entrypoints/http.py``;
upstream mechanics in the router; recording in :class:`~llmops_inference.execution.CallRunner`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from llmops_kit.logging import log_unexpected
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v1.calls import CallParameters, ExperimentRef
from llmops_schemas.v1.common import PromptRef
from llmops_schemas.v2 import ChatMessage

from llmops_inference.api_models import (
    CHAIN_FIELD,
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    GenerationParams,
)
from llmops_inference.chains import StepPosition, run_chain
from llmops_inference.domain import GenerationRequest, Params, Usage
from llmops_inference.errors import GatewayError
from llmops_inference.execution import CallRunner
from llmops_inference.features import FeatureBounds, check_chat, check_completion
from llmops_inference.limits import check_sizes
from llmops_inference.metrics import CALLS
from llmops_inference.ports import CallContext, PromptResolver, Resolved, ShadowCall, VariantChooser
from llmops_inference.recording.call_parts import recorded_chat, request_summary
from llmops_inference.recording.records import CallDraft, to_parameters, to_recorded_messages
from llmops_inference.streaming import Shape

__all__ = ["Answer", "Gateway", "Limits", "new_call_id"]

log = logging.getLogger(__name__)
Answer = dict[str, Any] | AsyncIterator[bytes]
ID_PREFIX = {"chat": "chatcmpl-", "completion": "cmpl-", "embedding": "embd-", "messages": "msg-"}


def new_call_id(endpoint: str) -> str:
    """OpenAI-style response id (``chatcmpl-<uuid7 hex>``), also the recorded ``call_id``."""
    return ID_PREFIX[endpoint] + new_uuid7().replace("-", "")


@dataclass(frozen=True)
class Limits:
    max_prompt_chars: int = 200_000
    max_tokens_limit: int = 4096
    default_max_tokens: int = 512
    max_shadows_in_flight: int = 64
    max_embedding_inputs: int = 256
    features: FeatureBounds = field(default_factory=FeatureBounds)


@dataclass
class Gateway:
    """Everything the routes call; built once per app by the bootstrap."""

    runner: CallRunner
    chooser: VariantChooser
    resolver: PromptResolver
    limits: Limits
    source: str
    environment: str
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _shadows: set[asyncio.Task[None]] = field(default_factory=set)

    async def chat(self, request: ChatCompletionRequest, context: CallContext) -> Answer:
        self._check(request.prompt_chars(), request.requested_max_tokens())
        check_chat(request, self.limits.features)
        chain = self.resolver.chain(request, context)
        if chain is not None:
            return await run_chain(self, chain, request, context, lambda: new_call_id("chat"))
        draft, sent = await self.open_chat(request, context)
        return await self.send_chat(draft, sent)

    async def completion(self, request: CompletionRequest, context: CallContext) -> Answer:
        if (request.model_extra or {}).get(CHAIN_FIELD) is not None:
            raise GatewayError(
                400, "'chain' is only supported on /v1/chat/completions", param=CHAIN_FIELD, code="unsupported"
            )
        self._check(request.prompt_chars(), request.requested_max_tokens())
        check_completion(request, self.limits.features)
        generation = GenerationRequest(
            kind="completion",
            params=self._params(request, request.requested_max_tokens()),
            prompt=request.prompt_text(),
        )
        messages = to_recorded_messages([("user", request.prompt_text(), None, None)])
        draft = self._draft(context, request, messages, generation.params)
        draft.request = request_summary(request)
        return await self._run(draft, request, generation, "completion")

    async def embeddings(self, request: EmbeddingRequest, context: CallContext) -> dict[str, Any]:
        check_sizes(
            prompt_chars=request.prompt_chars(),
            max_prompt_chars=self.limits.max_prompt_chars,
            max_tokens=None,
            max_tokens_limit=0,
        )
        texts = request.texts()
        if len(texts) > self.limits.max_embedding_inputs:
            raise GatewayError(
                413,
                f"input has {len(texts)} texts; at most {self.limits.max_embedding_inputs} are allowed per request",
                param="input",
                code="too_many_inputs",
            )
        draft = self._draft(context, request, to_recorded_messages([("user", t, None, None) for t in texts]), None)
        draft.tags.append("embeddings")
        await self.runner.admit(draft, request.prompt_chars(), 0, texts)
        try:
            result, routed = await self.runner.router.embed(request.model, texts, request.dimensions)
        except GatewayError as error:
            self.runner.fail(draft, error)
            raise
        self.runner.routed(draft, routed)
        draft.usage = Usage(result.prompt_tokens, 0)
        draft.first_token()
        self.runner.finish(draft)
        return _embedding_body(request, result.vectors, result.prompt_tokens)

    async def drain(self) -> None:
        """Wait until every shadow call started so far has ended (and so has been handed to the recorder)."""
        while self._shadows:
            await asyncio.gather(*list(self._shadows), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel shadow calls still running (their answers would be recorded as errors)."""
        for task in list(self._shadows):
            task.cancel()
        await asyncio.gather(*self._shadows, return_exceptions=True)

    # -- steps ------------------------------------------------------------------------------------

    async def open_chat(
        self, request: ChatCompletionRequest, context: CallContext, position: StepPosition | None = None
    ) -> tuple[CallDraft, ChatCompletionRequest]:
        """Choose the experiment arm, render the prompt, check sizes and start shadows: the call's draft and
        the request to send.

        For a chain step (``position``) the draft is labelled with the step and a refusal names it; a step
        refused here is recorded as a failed call (the chain was accepted, and earlier steps may have been
        paid for), while a plain request refused here is not a call yet (it never reached the runner).
        """
        plan = await self.chooser.choose(request, context)
        try:
            resolved = await self._resolve(plan.request, context)
        except GatewayError as error:
            if position is None:
                raise
            refused = position.error(error)
            draft = self._chat_draft(plan.request, context, None, plan.experiment)
            position.label(draft)
            self.runner.fail(draft, refused)
            raise refused from None
        for shadow in plan.shadows:
            self._start_shadow(shadow, context, position)
        draft = self._chat_draft(resolved.request, context, resolved.prompt, plan.experiment)
        if position is not None:
            position.label(draft)
        return draft, resolved.request

    async def _resolve(self, request: ChatCompletionRequest, context: CallContext) -> Resolved:
        """The request with its prompt rendered, refused when it has no messages or is over the size limits."""
        resolved = await self.resolver.resolve(request, context)
        if not resolved.request.messages:
            raise GatewayError(
                400, "messages: at least one message is required", param="messages", code="invalid_value"
            )
        self._check(resolved.request.prompt_chars(), resolved.request.requested_max_tokens())
        return resolved

    async def send_chat(self, draft: CallDraft, sent: ChatCompletionRequest) -> Answer:
        """Send an opened chat call (:meth:`open_chat`): its body, or its stream when it asks for one."""
        return await self._run(draft, sent, self._chat_request(sent), "chat")

    def _check(self, prompt_chars: int, max_tokens: int | None) -> None:
        check_sizes(
            prompt_chars=prompt_chars,
            max_prompt_chars=self.limits.max_prompt_chars,
            max_tokens=max_tokens,
            max_tokens_limit=self.limits.max_tokens_limit,
        )

    async def _run(
        self, draft: CallDraft, request: GenerationParams, generation: GenerationRequest, shape: Shape
    ) -> Answer:
        prompt_chars = len(generation.prompt) + sum(_text_chars(m.get("content")) for m in generation.messages)
        texts = [generation.prompt, *(text for m in generation.messages for text in _texts(m.get("content")))]
        await self.runner.admit(draft, prompt_chars, generation.params.max_tokens * request.choices(), texts)
        if not request.stream:
            return await self.runner.generate(draft, generation, shape)
        opened = await self.runner.open_stream(draft, generation)
        return self.runner.stream(draft, opened, shape, request.include_usage(), request.choices())

    def _params(self, request: GenerationParams, max_tokens: int | None) -> Params:
        return Params(
            max_tokens=max_tokens or self.limits.default_max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=tuple(request.stop_list()),
            seed=request.seed,
            extra=request.forwarded(),
        )

    def _chat_request(self, request: ChatCompletionRequest) -> GenerationRequest:
        messages = tuple(m.wire() for m in request.messages)
        return GenerationRequest(
            kind="chat", params=self._params(request, request.requested_max_tokens()), messages=messages
        )

    def _chat_draft(
        self,
        request: ChatCompletionRequest,
        context: CallContext,
        prompt: PromptRef | None,
        experiment: ExperimentRef | None,
    ) -> CallDraft:
        params = self._params(request, request.requested_max_tokens())
        draft = self._draft(context, request, recorded_chat(request.messages), params)
        draft.prompt, draft.experiment, draft.request = prompt, experiment, request_summary(request)
        return draft

    def _draft(
        self,
        context: CallContext,
        request: GenerationParams | EmbeddingRequest,
        messages: list[ChatMessage],
        params: Params | None,
    ) -> CallDraft:
        metadata = dict(getattr(request, "metadata", None) or {})
        metadata.update({"endpoint": context.endpoint, "key_id": context.key_id})
        return CallDraft(
            context=context,
            model=request.model,
            messages=messages,
            started_at=self.now(),
            source=self.source,
            environment=self.environment,
            parameters=to_parameters(params) if params else CallParameters(),
            metadata=metadata,
        )

    def _start_shadow(self, shadow: ShadowCall, context: CallContext, position: StepPosition | None) -> None:
        """A copy over the in-flight bound is never sent, so not a call: counted and logged, not recorded."""
        if len(self._shadows) >= self.limits.max_shadows_in_flight:
            CALLS.labels("chat", "shadow", "skipped").inc()
            log.warning("shadow call to %r skipped: %d already in flight", shadow.request.model, len(self._shadows))
            return
        copy = replace(context, call_id=new_call_id("chat"))
        task = asyncio.create_task(self._shadow(shadow, copy, position, context.call_id))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow(
        self, shadow: ShadowCall, context: CallContext, position: StepPosition | None = None, primary: str = ""
    ) -> None:
        """A copy sent to another arm: recorded (``experiment.shadow``, ``metadata.shadow_of`` the call it copies,
        and a chain step's labels), never returned, no rate limit.

        Every copy started is recorded once, sent or not: one its arm's prompt cannot be rendered for (a
        variable the caller did not send) is recorded as failed with the resolver's error. Nothing but a
        cancellation (``stop``) leaves this task: an upstream adapter's unexpected exception is already a 502
        (the router's), and anything else is logged and recorded as a 500, as on_unhandled answers a caller.
        """
        draft: CallDraft | None = None
        try:
            request = shadow.request.model_copy(update={"stream": False, "stream_options": None})
            experiment = shadow.experiment.model_copy(update={"shadow": True})
            draft = self._shadow_draft(request, context, None, experiment, position, primary=primary)
            resolved = await self._resolve(request, context)
            draft = self._shadow_draft(
                resolved.request, context, resolved.prompt, experiment, position, draft, primary=primary
            )
            self.runner.router.targets(draft.model)
            sent = self._chat_request(resolved.request)
            self.runner.enforce(draft, [text for m in sent.messages for text in _texts(m.get("content"))])
            await self.runner.generate(draft, sent, "chat")
        except GatewayError as error:
            if draft is not None and draft.ended is None:
                self.runner.fail(draft, error)
        except Exception as exc:  # a bug of the gateway's: what on_unhandled would answer a caller
            log_unexpected(log, f"shadow call {context.call_id} failed", exc)
            if draft is not None and draft.ended is None:
                self.runner.fail(draft, GatewayError(500, "an unexpected error occurred", type="server_error"))

    def _shadow_draft(
        self,
        request: ChatCompletionRequest,
        context: CallContext,
        prompt: PromptRef | None,
        experiment: ExperimentRef,
        position: StepPosition | None,
        opened: CallDraft | None = None,
        *,
        primary: str = "",
    ) -> CallDraft:
        """A shadow copy's draft (before its prompt is rendered, then again after, keeping when it started).

        ``metadata.shadow_of`` names the call it copies, so the pair can be judged side by side (docs/evaluation.md).
        """
        draft = self._chat_draft(request, context, prompt, experiment)
        draft.tags.append("shadow")
        if primary:
            draft.metadata["shadow_of"] = primary
        if position is not None:
            position.label(draft)
        if opened is not None:
            draft.started_at, draft.started = opened.started_at, opened.started
        return draft


def _text_chars(content: Any) -> int:
    """Characters of a message's text (an image's base64 is not text the rate limit should count)."""
    if isinstance(content, list):
        return sum(len(part.get("text") or "") for part in content if isinstance(part, dict))
    return len(content) if isinstance(content, str) else 0


def _texts(content: Any) -> list[str]:
    """A message's texts as sent (what a policy's blocked terms are looked for in)."""
    if isinstance(content, list):
        return [part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)]
    return [content] if isinstance(content, str) else []


def _embedding_body(request: EmbeddingRequest, vectors: list[list[float]], prompt_tokens: int) -> dict[str, Any]:
    def encode(vector: list[float]) -> list[float] | str:
        if request.encoding_format == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        return vector

    data = [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)]
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "data": data, "model": request.model, "usage": usage}
