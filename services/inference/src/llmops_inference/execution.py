"""Running one admitted call: limits, the router, the answer's body or stream, and exactly one recorded event.

Whatever happens after a request was authenticated and validated (unknown model, rate limit, budget, upstream
failure, success, a stream cut by the client) the call's :class:`~llmops_inference.recording.records.CallDraft`
is handed to the recorder once, which never blocks and turns it into one event off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmops_kit.logging import log_unexpected

from llmops_inference.choices import StreamedChoices, answered_choices, beyond_text
from llmops_inference.domain import Delta, GenerationRequest, UpstreamError, Usage
from llmops_inference.errors import GatewayError
from llmops_inference.limits import RateLimiter, estimate_tokens
from llmops_inference.metrics import CALLS
from llmops_inference.ports import BudgetGuard, CallContext, PolicyGuard
from llmops_inference.recording.records import CallDraft
from llmops_inference.router import OpenedStream, Routed, Router, adapter_failure
from llmops_inference.streaming import (
    DONE,
    Shape,
    chunk,
    completion_body,
    relayed_chunk,
    role_chunk,
    sse,
    usage_chunk,
)

__all__ = ["CallRunner", "Recorder"]

log = logging.getLogger(__name__)


class Recorder(Protocol):
    """Takes a finished call, whose event it builds later; must not block (the :class:`CallRecorder` buffers it)."""

    def record(self, call: CallDraft) -> None: ...


@dataclass
class CallRunner:
    """The steps every generating or embedding call shares."""

    router: Router
    recorder: Recorder
    limiter: RateLimiter
    budget: BudgetGuard
    policies: PolicyGuard | None = None
    """The tenants' policies (docs/adr/0045); None checks none."""
    clock: Callable[[], float] = time.time
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    async def admit(self, draft: CallDraft, prompt_chars: int, max_tokens: int, texts: Sequence[str] = ()) -> None:
        """Known model, allowed by the tenant's policies for the prompt's ``texts``, within budget, within rate
        limits; otherwise record the refusal and raise it."""
        try:
            self.router.targets(draft.model)
            self.enforce(draft, texts)
            decision = await self.budget.check(draft.context, draft.model)
            if not decision.allowed:
                message = decision.message or "the budget for this key or app is exhausted"
                raise GatewayError(
                    429, message, type="insufficient_quota", code="budget_exceeded", retry_after=decision.retry_after_s
                )
            draft.reservation = self.limiter.admit(
                _limit_key(draft.context),
                estimate_tokens(prompt_chars, max_tokens),
                prompt_tokens=estimate_tokens(prompt_chars, 0),
            )
        except GatewayError as error:
            self.fail(draft, error)
            raise

    def enforce(self, draft: CallDraft, texts: Sequence[str]) -> None:
        """Raise the 403 of a policy that forbids this call (the caller records it)."""
        refusal = self.policies.check(draft.context, draft.model, texts) if self.policies is not None else None
        if refusal is not None:
            raise GatewayError(403, refusal.message, type="permission_error", code="policy_violation")

    async def generate(self, draft: CallDraft, request: GenerationRequest, shape: Shape) -> dict[str, Any]:
        """A whole answer as OpenAI's JSON body."""
        try:
            generation, routed = await self.router.generate(draft.model, request)
        except GatewayError as error:
            self.fail(draft, error)
            raise
        self.routed(draft, routed)
        draft.output, draft.finish_reason, draft.usage = (
            generation.text,
            generation.finish_reason or "stop",
            generation.usage,
        )
        if generation.choices is not None and beyond_text(generation.choices, request.kind):
            draft.choices = answered_choices(generation.choices, kind=request.kind)
        draft.first_token()
        self.finish(draft)
        return completion_body(
            shape,
            draft.context.call_id,
            int(self.clock()),
            draft.model,
            generation.text,
            draft.finish_reason,
            generation.usage,
            choices=generation.choices,
            extra=generation.extra,
        )

    async def open_stream(self, draft: CallDraft, request: GenerationRequest) -> OpenedStream:
        """The upstream stream, once its first delta arrived (retries and fallbacks happen before)."""
        try:
            opened = await self.router.open_stream(draft.model, request)
        except GatewayError as error:
            self.fail(draft, error)
            raise
        self.routed(draft, opened.routed)
        return opened

    async def stream(
        self, draft: CallDraft, opened: OpenedStream, shape: Shape, include_usage: bool, choices: int = 1
    ) -> AsyncIterator[bytes]:
        """The answer as server-sent events; records the call when the stream ends, however it ends.

        Pieces with the upstream's own choices (tool calls, logprobs, ``n`` > 1) are relayed as they are and
        re-assembled for the record; text-only pieces are framed by the gateway.
        """
        ids = (shape, draft.context.call_id, int(self.clock()), draft.model)
        parts: list[str] = []
        relayed = StreamedChoices(shape)
        finished = False
        try:
            if shape == "chat":
                yield sse(role_chunk(*ids, choices=choices, include_usage=include_usage))
            async for delta in _deltas(opened):
                if delta.choices:
                    if relayed.add(delta.choices):
                        draft.first_token()
                    yield sse(relayed_chunk(*ids, delta.choices, include_usage=include_usage))
                elif delta.text:
                    draft.first_token()
                    parts.append(delta.text)
                    yield sse(chunk(*ids, text=delta.text, include_usage=include_usage))
                draft.finish_reason = delta.finish_reason or draft.finish_reason
                draft.usage = delta.usage or draft.usage
            draft.finish_reason = draft.finish_reason or "stop"
            if not relayed.finished():
                yield sse(
                    chunk(
                        *ids,
                        text=None if shape == "chat" else "",
                        finish_reason=draft.finish_reason,
                        include_usage=include_usage,
                    )
                )
            if include_usage:
                yield sse(usage_chunk(*ids, draft.usage or Usage(0, 0)))
            finished = True
            yield DONE
        except UpstreamError as error:
            self.router.report_stream_failure(opened.routed.target, error)
            draft.fail("upstream_error", error.message, error.kind)
            finished = True
            yield sse({"error": {"message": error.message, "type": "server_error", "param": None, "code": error.kind}})
            yield DONE
        except Exception as error:  # a bug of the gateway's, not the upstream: say so without internals
            log_unexpected(log, f"call {draft.context.call_id}: the stream failed", error)
            draft.fail("internal_error", type(error).__name__)
            finished = True
            yield sse(
                {
                    "error": {
                        "message": "an unexpected error occurred",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
            )
            yield DONE
        finally:
            # No awaits here: a client that went away cancels this generator, and every await would re-raise.
            draft.output = "".join(parts) + relayed.text()
            draft.choices = relayed.choices() if relayed.used else None
            if not finished and draft.error is None:
                draft.fail("client_closed", "the client closed the stream before it ended")
            self._spawn(_close(opened.rest))
            self.finish(draft)

    def fail(self, draft: CallDraft, error: GatewayError) -> None:
        if draft.ended is not None:  # handed to the recorder already, which builds its event later
            return
        draft.fail(error.type, error.message, error.code)
        draft.metadata["http_status"] = str(error.status)
        self.finish(draft)

    def finish(self, draft: CallDraft) -> None:
        """Record the call (once) and tell the limiter and the budget what it used."""
        if draft.ended is not None:
            return
        draft.end()
        self.recorder.record(draft)  # the event is built in the recorder's drain, not while the caller waits
        served = draft.model in self.router.table.models  # a label per unknown name would be unbounded
        CALLS.labels(draft.context.endpoint, draft.model if served else "unknown", draft.status).inc()
        reservation = draft.reservation
        if reservation is not None:
            # What was answered so far is known when an answer started or the call succeeded, usage or not.
            answered = draft.first_token_at is not None or draft.error is None
            answer_chars = len(draft.output or "") if answered else None
            reservation.settle(draft.usage.total_tokens if draft.usage else None, answer_chars=answer_chars)
        self._spawn(self.budget.charge(draft.context, draft.model, draft.usage))

    def routed(self, draft: CallDraft, routed: Routed) -> None:
        target = routed.target
        draft.provider = target.upstream
        draft.metadata.update(
            {
                "backend": target.backend,
                "upstream": target.upstream,
                "upstream_model": target.model,
                "attempts": str(routed.attempts),
            }
        )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _deltas(opened: OpenedStream) -> AsyncIterator[Delta]:
    """The first delta, then the rest, each within the target's timeout (an idle upstream is a failure)."""
    yield opened.first
    timeout = opened.routed.target.timeout_s
    while True:
        try:
            async with asyncio.timeout(timeout):
                delta = await anext(opened.rest)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UpstreamError("timeout", f"the upstream sent nothing for {timeout:g}s") from None
        except UpstreamError:
            raise
        except Exception as exc:  # the adapter broke mid-stream: an upstream failure like any other (logged)
            raise adapter_failure(opened.routed.target, exc) from exc
        yield delta


async def _close(iterator: AsyncIterator[Delta]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # the upstream's stream is being thrown away anyway
            return


def _limit_key(context: CallContext) -> str:
    """Whose window a call counts in: its key's, and for a platform service's key the tenant it acts for too,
    so one tenant's evaluation run cannot exhaust the platform's calls for every other tenant."""
    if context.origin == "platform":
        return f"{context.key_id}\x00{context.tenant_id}"
    return context.key_id
