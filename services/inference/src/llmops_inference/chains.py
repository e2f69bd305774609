"""Prompt chains on chat completions: each step is a chat call of its own, and the last one is the request's.

A chat request with a ``chain`` extension field (``{"steps": [{"output", "prompt"}, ...], "variables": {...}}``)
is checked by the :class:`~llmops_inference.ports.PromptResolver` (every step's prompt exists and gets its
variables) before any step is sent. Then each step is sent as the single-prompt request the caller could
have sent: the request with ``prompt`` set to the step's selector, whose variables are the chain's, the answers
of the steps before it (under their ``output`` names) and the step's own. So an experiment chooses the step's
arm exactly as it would for a request naming that prompt, the registry renders it, and routing, retries, rate
limits, the budget and recording apply to it as to any call.

Steps before the last are sent without streaming and without the caller's ``messages``; the last step is the
request itself: its call id is the response's ``id``, it streams when the request asks to, and the caller's
``messages`` follow its rendered ones. Every step is recorded as its own call; all of them carry the request's
trace id (a new one when no ``traceparent`` came), the tag ``chain`` and the metadata ``chain_id`` (the
request's call id), ``chain_step`` (from 0), ``chain_steps`` and ``chain_output``. A step that fails fails the
request with its own OpenAI-shaped error and is recorded as failed; the steps after it are never sent. So is a
step refused before it is sent (its prompt cannot be rendered with the earlier answers, is too large, or an
experiment arm's version needs another variable): its error names the step (:meth:`StepPosition.error`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from llmops_inference.api_models import CHAIN_FIELD, PROMPT_FIELD, ChatCompletionRequest, copy_with
from llmops_inference.errors import GatewayError
from llmops_inference.ports import CallContext
from llmops_inference.prompts.resolve import PromptChain, PromptSelector, resolve_chain, step_name
from llmops_inference.recording.records import CallDraft

__all__ = ["CHAIN_TAG", "StepPosition", "StepSender", "new_trace_id", "run_chain", "step_request"]

AnswerT_co = TypeVar("AnswerT_co", covariant=True)

CHAIN_TAG = "chain"


def new_trace_id() -> str:
    """A W3C trace id (32 hex digits) for a chain whose request sent no ``traceparent``."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class StepPosition:
    """Where a step sits in its chain: what its recorded call is labelled with and its errors are prefixed by."""

    chain_id: str
    index: int
    count: int
    output: str

    @classmethod
    def of(cls, chain: PromptChain, index: int, chain_id: str) -> StepPosition:
        return cls(chain_id, index, len(chain.steps), chain.steps[index].output)

    def label(self, draft: CallDraft) -> None:
        """Mark the step's recorded call as part of the chain."""
        draft.tags.append(CHAIN_TAG)
        draft.metadata.update(
            chain_id=self.chain_id,
            chain_step=str(self.index),
            chain_steps=str(self.count),
            chain_output=self.output,
        )

    def error(self, error: GatewayError) -> GatewayError:
        """A refusal of the step before it was sent (its prompt, its size), naming the step.

        Its ``param`` is under the step's place in the request (``chain.steps.1.prompt``,
        ``chain.steps.1.messages``): the step's own request, which another param would name, is not the caller's.
        """
        param = None if error.param is None else f"{CHAIN_FIELD}.steps.{self.index}.{error.param}"
        return GatewayError(
            error.status,
            f"{step_name(self.index, self.output)}: {error.message}",
            type=error.type,
            param=param,
            code=error.code,
            retry_after=error.retry_after,
        )


class StepSender(Protocol[AnswerT_co]):
    """What sends a chain's steps: the :class:`~llmops_inference.handlers.Gateway`'s chat calls."""

    async def open_chat(
        self, request: ChatCompletionRequest, context: CallContext, position: StepPosition | None = None
    ) -> tuple[CallDraft, ChatCompletionRequest]:
        """The step's draft, labelled with ``position``, and the request to send; a refusal is recorded and
        raised naming the step."""
        ...

    async def send_chat(self, draft: CallDraft, sent: ChatCompletionRequest) -> AnswerT_co:
        """The step's answer: its body, or its stream (the last step, when the request streams)."""
        ...


async def run_chain(
    sender: StepSender[AnswerT_co],
    chain: PromptChain,
    request: ChatCompletionRequest,
    context: CallContext,
    new_call_id: Callable[[], str],
) -> AnswerT_co:
    """Each step before the last as a call of its own (a new call id), its answer a variable of the later
    steps; then the last step as this request's call, whose answer is returned."""
    context = replace(context, trace_id=context.trace_id or new_trace_id())

    async def complete(index: int, selector: PromptSelector) -> str:
        position = StepPosition.of(chain, index, context.call_id)
        step = replace(context, call_id=new_call_id())
        draft, sent = await sender.open_chat(step_request(request, selector, last=False), step, position)
        await sender.send_chat(draft, sent)
        return draft.output or ""

    selector = await resolve_chain(chain, complete)
    position = StepPosition.of(chain, len(chain.steps) - 1, context.call_id)
    draft, sent = await sender.open_chat(step_request(request, selector, last=True), context, position)
    return await sender.send_chat(draft, sent)


def step_request(request: ChatCompletionRequest, selector: PromptSelector, *, last: bool) -> ChatCompletionRequest:
    """The single-prompt request a step is sent as; a step before the last has no messages and never streams."""
    fields = {} if last else {"messages": [], "stream": False, "stream_options": None}
    prompt = {PROMPT_FIELD: selector.model_dump(exclude_none=True)}
    return copy_with(request, fields=fields, extensions=prompt, drop=(CHAIN_FIELD,))
