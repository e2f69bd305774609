"""Building the ``llmops.call.recorded.v2`` event of one gateway call.

A :class:`CallDraft` is opened when a request is accepted and filled in as the call proceeds (which upstream,
the first token, the answer or the error); :meth:`CallDraft.event` turns it into the CloudEvent. Its id is
derived from (tenant, call id, start time), so it is fixed before the first publish attempt and identical in
every replay. Texts are cut (and ``metadata.truncated`` set) when the event would exceed the broker's record
size, so a huge prompt can never make an event unpublishable.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v1.calls import MAX_TEXT, CallError, CallParameters, ExperimentRef
from llmops_schemas.v1.common import PromptRef
from llmops_schemas.v2 import CallRecorded, ChatMessage, Choice, RequestSummary, TextPart, ToolCall
from pydantic import ValidationError

from llmops_inference.choices import AnsweredChoice
from llmops_inference.domain import Params, Usage
from llmops_inference.limits import Reservation
from llmops_inference.ports import CallContext
from llmops_inference.recording.call_parts import recorded_choices, recorded_usage

__all__ = ["CallDraft", "identifier_or_none", "to_parameters", "to_recorded_messages"]

log = logging.getLogger(__name__)
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")
ENVELOPE_MARGIN = 16 * 1024
ROLES = {"function": "tool"}
UNRECORDED_PARAMETERS = frozenset({"user", "metadata"})
"""Sent fields recorded elsewhere in the event (``user_id``, ``metadata``), not again as parameters."""
NOT_RENDERED = ChatMessage(role="user", content="")
"""What an event holds as ``messages`` (it needs one) for a call refused before it had any: a chain step or a
shadow copy whose prompt could not be rendered (its error says why)."""


def identifier_or_none(value: str | None) -> str | None:
    """``value`` if it is a valid event identifier (user ids, tool call ids), else None."""
    return value if value is not None and IDENTIFIER.match(value) else None


def to_recorded_messages(messages: Sequence[tuple[str, str, str | None, str | None]]) -> list[ChatMessage]:
    """``(role, text, name, tool_call_id)`` tuples as the event's messages (at most 1,024, texts capped)."""
    return [
        ChatMessage(
            role=ROLES.get(role, role),
            content=text[:MAX_TEXT],
            name=name,
            tool_call_id=identifier_or_none(tool_call_id),
        )
        for role, text, name, tool_call_id in messages[:1024]
    ]


def to_parameters(params: Params) -> CallParameters:
    """The sampling parameters, and of the other fields sent the scalar ones (``n``, ``logprobs``,
    ``tool_choice``, ``reasoning_effort``...; texts cut) and the ``response_format`` type."""
    extra: dict[str, Any] = {}
    for name, value in params.extra.items():
        if name in UNRECORDED_PARAMETERS or len(extra) == 64:
            continue
        if isinstance(value, str):
            extra[name] = value[:256]
        elif isinstance(value, int | float | bool):
            extra[name] = value
        elif name == "response_format" and isinstance(value, dict) and isinstance(value.get("type"), str):
            extra[name] = value["type"][:256]
    return CallParameters(
        temperature=params.temperature,
        top_p=params.top_p,
        max_tokens=params.max_tokens,
        stop=[s[:256] for s in params.stop[:16]] or None,
        seed=params.seed,
        extra=extra,
    )


def _cut(message: ChatMessage, limit: int) -> ChatMessage:
    """``message`` with its text (the string content, or each text part) and tool arguments cut to ``limit``."""
    content = message.content
    if isinstance(content, str):
        content = content[:limit]
    elif content is not None:
        content = [p.model_copy(update={"text": p.text[:limit]}) if isinstance(p, TextPart) else p for p in content]
    return message.model_copy(update={"content": content, "tool_calls": _cut_calls(message.tool_calls, limit)})


def _cut_choice(choice: Choice, limit: int) -> Choice:
    """``choice`` with its output, refusal and tool arguments cut to ``limit`` characters, logprobs left out."""
    return choice.model_copy(
        update={
            "output": choice.output[:limit] if choice.output is not None else None,
            "refusal": choice.refusal[:limit] if choice.refusal is not None else None,
            "tool_calls": _cut_calls(choice.tool_calls, limit),
            "logprobs": None,
        }
    )


def _cut_calls(calls: list[ToolCall] | None, limit: int) -> list[ToolCall] | None:
    if not calls:
        return calls
    return [
        call.model_copy(
            update={"function": call.function.model_copy(update={"arguments": call.function.arguments[:limit]})}
        )
        for call in calls
    ]


@dataclass
class CallDraft:
    """One call as it happens; every field but the context is optional until the end.

    Once ended and handed to the recorder it is not changed again: the recorder builds its event later.
    """

    context: CallContext
    model: str
    messages: list[ChatMessage]
    started_at: datetime
    source: str
    environment: str
    parameters: CallParameters = field(default_factory=CallParameters)
    started: float = field(default_factory=time.perf_counter)
    provider: str = "gateway"
    prompt: PromptRef | None = None
    experiment: ExperimentRef | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    output: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    first_token_at: float | None = None
    error: CallError | None = None
    ended: float | None = None
    ended_at: datetime | None = None
    """When the call ended: its event's ``time``, however much later the recorder builds the event."""
    choices: list[AnsweredChoice] | None = None
    """The answer's choices (tool calls, refusals, logprobs, ``n`` > 1) when the upstream gave its own."""
    request: RequestSummary | None = None
    """What the request asked for beyond text (tools, output format, ``n``, logprobs), when it asked."""
    reservation: Reservation | None = None
    """The rate limiter's token reservation, settled with the real usage when the call is recorded."""

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def fail(self, type_: str, message: str, code: str | None = None) -> None:
        self.error = CallError(type=type_[:256] or "error", message=message[:1024], code=code[:256] if code else None)

    def end(self) -> None:
        if self.ended is None:
            self.ended = time.perf_counter()
            self.ended_at = datetime.now(UTC)

    @property
    def call_id(self) -> str:
        return self.context.call_id

    @property
    def status(self) -> Literal["ok", "error"]:
        """The recorded call's status."""
        return "error" if self.error else "ok"

    def event(self) -> CloudEvent[CallRecorded]:
        """The event to publish (``end()`` is implied)."""
        self.end()
        try:
            payload = self._payload()
        except ValidationError as exc:  # never lose a call over a label: record it without the extras
            log.error("call %s: metadata or tags not recordable (%s)", self.context.call_id, exc.errors()[0]["msg"])
            payload = self._payload(metadata={"recording": "metadata dropped: not valid"}, tags=[])
        event = self._wrap(payload)
        if len(event.to_json_bytes()) > MAX_RECORD_BYTES - ENVELOPE_MARGIN:
            event = self._wrap(self._shrunk())
        return event

    def _payload(self, **overrides: Any) -> CallRecorded:
        assert self.ended is not None
        usage = self.usage
        fields: dict[str, Any] = {
            "call_id": self.context.call_id,
            "trace_id": self.context.trace_id,
            "app": self.context.app,
            "environment": self.environment,
            "user_id": self.context.user_id,
            "session_id": self.context.session_id,
            "model": self.model,
            "provider": self.provider,
            "messages": self.messages or [NOT_RENDERED],
            "choices": self._choices(self.output),
            "parameters": self.parameters,
            "request": self.request,
            "usage": recorded_usage(usage) if usage else None,
            "started_at": self.started_at,
            "latency_ms": round((self.ended - self.started) * 1000, 3),
            "time_to_first_token_ms": round((self.first_token_at - self.started) * 1000, 3)
            if self.first_token_at
            else None,
            "status": self.status,
            "error": self.error,
            "prompt": self.prompt,
            "experiment": self.experiment,
            "tags": self.tags,
            "metadata": dict(list(self.metadata.items())[:64]),
            "origin": self.context.origin,
        }
        fields.update(overrides)
        return CallRecorded(**fields)

    def _choices(self, output: str | None, limit: int = MAX_TEXT) -> list[Choice]:
        """The upstream's choices when it gave its own, else the one answer (none when nothing came back);
        texts cut to ``limit``."""
        if self.choices:
            choices = recorded_choices(self.choices)
            if limit < MAX_TEXT:
                choices = [_cut_choice(choice, limit) for choice in choices]
            return choices
        if output is None and self.finish_reason is None:
            return []
        return [Choice(output=output, finish_reason=self.finish_reason)]

    def _shrunk(self) -> CallRecorded:
        """The payload with every text cut to a common length that fits the record size."""
        limit = MAX_TEXT
        while True:
            limit //= 2
            messages = [_cut(m, limit) for m in self.messages]
            output = self.output[:limit] if self.output is not None else None
            payload = self._payload(
                messages=messages,
                choices=self._choices(output, limit),
                metadata={**self.metadata, "truncated": "true"},
            )
            if limit < 64 or len(payload.model_dump_json().encode()) < MAX_RECORD_BYTES - 2 * ENVELOPE_MARGIN:
                return payload

    def _wrap(self, payload: CallRecorded) -> CloudEvent[CallRecorded]:
        started_ms = int(self.started_at.timestamp() * 1000)
        return CloudEvent.wrap(
            payload,
            source=self.source,
            tenant_id=self.context.tenant_id,
            event_id=deterministic_uuid7(started_ms, self.context.tenant_id, self.context.call_id),
            subject=self.context.call_id,
            trace_id=self.context.trace_id,
            key_id=self.context.key_id,
            time=self.ended_at,
        )
