"""``llmops.call.recorded.v2``: one LLM call, with tool calls, content parts, usage details and ``n`` choices.

Version 2 of the call contract (docs/adr/0015-call-recorded-v2.md). Against v1 it changes how messages and
answers are shaped, so it is a new event type on the same topic: messages carry tool calls and content parts,
the answer is a list of ``choices`` (v1's ``output`` and ``finish_reason`` are the first choice), usage has
cached, cache-write and reasoning tokens, and ``request`` summarises tools and output format.
:meth:`CallRecorded.from_v1` is the lossless conversion the upcaster applies; :func:`v1_data_as_v2` reshapes
v1 data the same way before validation (ingest uses it on records of the v1 shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1 import calls as v1
from llmops_schemas.v1.calls import CallError, CallParameters, ExperimentRef, LongText
from llmops_schemas.v1.common import Identifier, Labels, Name, PromptRef, Tags
from llmops_schemas.v2.call_parts import MAX_CHOICES, ChatMessage, Choice, TokenUsage, tool_arguments
from llmops_schemas.v2.request import RequestSummary

__all__ = ["CallRecorded", "v1_data_as_v2"]

_FIRST_CHOICE = ("output", "finish_reason")
"""The v1 fields that v2 holds as its first choice; every other v1 field is carried over as it is."""


class CallRecorded(EventPayload):
    """An LLM call: who asked what of which model, what came back, and how long and how many tokens it took."""

    event_type: ClassVar[str] = "llmops.call.recorded.v2"
    topic: ClassVar[str] = "llmops.calls.recorded"

    call_id: Identifier = Field(description="Client-supplied or generated; the same id makes a retry idempotent")
    trace_id: Identifier | None = None
    app: Name
    environment: Name = "production"
    user_id: Identifier | None = None
    session_id: Identifier | None = None
    model: Name
    provider: Name
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=1024)]
    choices: Annotated[list[Choice], Field(max_length=MAX_CHOICES)] = Field(
        default_factory=list, description="The answers in index order; empty when none came back (an error)"
    )
    parameters: CallParameters = Field(default_factory=CallParameters)
    request: RequestSummary | None = None
    usage: TokenUsage | None = None
    started_at: AwareDatetime
    latency_ms: float = Field(ge=0, le=86_400_000)
    time_to_first_token_ms: float | None = Field(default=None, ge=0, le=86_400_000)
    status: Literal["ok", "error"] = "ok"
    error: CallError | None = None
    prompt: PromptRef | None = None
    experiment: ExperimentRef | None = None
    tags: Tags = Field(default_factory=list)
    metadata: Labels = Field(default_factory=dict)
    origin: Literal["application", "platform"] = Field(
        default="application",
        description=(
            "'platform' marks a call the platform made itself (judges, offline runs, scheduled re-scoring), set by "
            "the gateway from the calling key's role and never by a client; online evaluation, drift, objectives "
            "and experiment analytics exclude such calls by default, cost books them to the platform"
        ),
    )

    @model_validator(mode="after")
    def _error_matches_status(self) -> CallRecorded:
        if self.status == "error" and self.error is None:
            raise ValueError("a call with status 'error' needs an 'error' object")
        if self.status == "ok" and self.error is not None:
            raise ValueError("a call with status 'ok' must not carry an 'error' object")
        return self

    @property
    def output(self) -> LongText | None:
        """The first choice's text (v1's ``output``), None when there is none."""
        return self.choices[0].output if self.choices else None

    @property
    def finish_reason(self) -> Name | None:
        """The first choice's finish reason (v1's ``finish_reason``), None when there is none."""
        return self.choices[0].finish_reason if self.choices else None

    def tool_arguments(self) -> list[str]:
        """The arguments of every tool call, in the messages first, then in the choices."""
        return tool_arguments(self.messages, self.choices)

    def searchable_text(self) -> str:
        """The text full-text search looks at: messages (tool results too), outputs and tool arguments."""
        outputs = [choice.output or "" for choice in self.choices]
        return "\n".join([*(m.text() for m in self.messages), *outputs, *self.tool_arguments()])

    @classmethod
    def from_v1(cls, old: v1.CallRecorded) -> CallRecorded:
        """``old`` as a v2 payload, losslessly: v1's output and finish reason become the first choice."""
        return cls.model_validate(v1_data_as_v2(old.model_dump(exclude_unset=True)))


def v1_data_as_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """v1 call data (a record as a client sent it, or a v1 payload's dump) in v2's shape, not yet validated.

    ``output`` and ``finish_reason`` become the first choice (no choice when both are absent or null); every
    other field keeps its name and value: v1's messages and token counts are valid v2 ones.
    """
    shaped = dict(data)  # a copy less the two fields: a fifth of a comprehension's cost, on every v1 record
    for name in _FIRST_CHOICE:
        shaped.pop(name, None)
    output, finish_reason = data.get("output"), data.get("finish_reason")
    if output is not None or finish_reason is not None:
        shaped["choices"] = [{"output": output, "finish_reason": finish_reason}]
    return shaped
