"""``llmops.call.recorded.v1``: one LLM call, as the application or the gateway saw it."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, JsonValue, StringConstraints, model_validator

from llmops_schemas.envelope import EventPayload
from llmops_schemas.v1.common import Identifier, Labels, Name, PromptRef, ShortText, StrictModel, Tags

__all__ = ["CallError", "CallParameters", "CallRecorded", "ChatMessage", "ExperimentRef", "TokenUsage"]

MAX_TEXT = 1_000_000
"""Longest message or output text, in characters (a batch body is capped at 10 MiB anyway)."""

LongText = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class ChatMessage(StrictModel):
    """One message of the conversation sent to the model."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: LongText
    name: Name | None = None
    tool_call_id: Identifier | None = None


class CallParameters(StrictModel):
    """Sampling parameters of the call; provider-specific ones go in ``extra``."""

    temperature: float | None = Field(strict=True, default=None, ge=0, le=2)
    top_p: float | None = Field(strict=True, default=None, gt=0, le=1)
    max_tokens: int | None = Field(strict=True, default=None, ge=1, le=1_000_000)
    stop: Annotated[list[Annotated[str, StringConstraints(max_length=256)]], Field(max_length=16)] | None = None
    seed: int | None = Field(default=None, strict=True)
    extra: Annotated[dict[str, JsonValue], Field(max_length=64)] = Field(default_factory=dict)


class TokenUsage(StrictModel):
    """Token counts as reported by the provider (or counted by the gateway)."""

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _total_adds_up(self) -> TokenUsage:
        if self.total_tokens < self.prompt_tokens + self.completion_tokens:
            raise ValueError("total_tokens must be at least prompt_tokens + completion_tokens")
        return self


class CallError(StrictModel):
    """Why a call failed."""

    type: Name
    message: ShortText
    code: Name | None = None


class ExperimentRef(StrictModel):
    """The experiment arm a call was routed to; ``shadow`` marks a copy whose answer was never returned."""

    experiment_id: Identifier
    variant: Name
    shadow: bool = False


class CallRecorded(EventPayload):
    """An LLM call: who asked what of which model, what came back, and how long and how many tokens it took."""

    event_type: ClassVar[str] = "llmops.call.recorded.v1"
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
    output: LongText | None = None
    finish_reason: Name | None = None
    parameters: CallParameters = Field(default_factory=CallParameters)
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

    def searchable_text(self) -> str:
        """The text that full-text search looks at: every message and the output."""
        return "\n".join([*(m.content for m in self.messages), self.output or ""])
