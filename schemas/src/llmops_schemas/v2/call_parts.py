"""The parts of a ``llmops.call.recorded.v2`` event: messages, content parts, tool calls, choices, usage.

Everything is bounded: a part never carries media bytes (a :class:`MediaRef` names them by size and SHA-256),
tool arguments are the model's JSON text up to :data:`MAX_TOOL_ARGUMENTS` characters, and every list has a
maximum length. The limits are the contract's outer bounds; the gateway enforces its own, lower ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from llmops_schemas.v1.calls import LongText
from llmops_schemas.v1.common import Identifier, Name, Sha256Hex, StrictModel

__all__ = [
    "MAX_CHOICES",
    "MAX_LOGPROB_TOKENS",
    "MAX_MEDIA_BYTES",
    "MAX_PARTS",
    "MAX_SCHEMA_TEXT",
    "MAX_TOOLS",
    "MAX_TOOL_ARGUMENTS",
    "MAX_TOOL_CALLS",
    "MAX_TOP_LOGPROBS",
    "MAX_URL",
    "ChatMessage",
    "Choice",
    "ContentPart",
    "FunctionCall",
    "MediaRef",
    "TextPart",
    "TokenLogprob",
    "TokenUsage",
    "ToolCall",
    "TopLogprob",
    "tool_arguments",
]

MAX_PARTS = 256
"""Most content parts in one message."""
MAX_TOOL_CALLS = 128
"""Most tool calls in one assistant message or choice."""
MAX_TOOL_ARGUMENTS = 262_144
"""Longest tool-call ``arguments`` text, in characters (about 64k tokens of JSON)."""
MAX_CHOICES = 128
"""Most choices of one call (OpenAI's largest ``n``)."""
MAX_TOOLS = 128
"""Most tool definitions summarised from one request (OpenAI's limit)."""
MAX_SCHEMA_TEXT = 65_536
"""Longest JSON Schema text (a tool's parameters, a ``json_schema`` response format), in characters."""
MAX_MEDIA_BYTES = 67_108_864
"""Largest media size a reference may state (64 MiB; the gateway refuses far smaller images)."""
MAX_URL = 2048
"""Longest media URL."""
MAX_LOGPROB_TOKENS = 4096
"""Most tokens with log probabilities in one choice (a producer keeps the first ones)."""
MAX_TOP_LOGPROBS = 20
"""Most alternatives per token (OpenAI's largest ``top_logprobs``)."""

MediaType = Annotated[str, StringConstraints(max_length=127, pattern=r"^[a-z]+/[a-z0-9.+-]+$")]
"""A lower-case IANA media type such as ``image/png``."""
MediaUrl = Annotated[str, StringConstraints(max_length=MAX_URL, pattern=r"^[a-z][a-z0-9+.-]*://\S+$")]
"""Where the media was fetched from (``https://``, ``gs://``, ...); never a ``data:`` URL, which holds the bytes."""
ToolArguments = Annotated[str, StringConstraints(max_length=MAX_TOOL_ARGUMENTS)]


class TextPart(StrictModel):
    """A text content part."""

    type: Literal["text"]
    text: LongText


class MediaRef(StrictModel):
    """A reference to media sent to the model (an image, audio or a file): what it was, never its bytes.

    Media sent inline (base64) was seen whole, so its ``media_type``, ``size_bytes`` and ``sha256`` are
    required. Media given by ``url`` was fetched by the provider, not by the platform: those three are then
    known only if the producer fetched it, and may be absent.
    """

    type: Literal["image", "audio", "file"]
    media_type: MediaType | None = None
    size_bytes: int | None = Field(default=None, ge=0, le=MAX_MEDIA_BYTES)
    sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of the media bytes, 64 lower-case hex digits")
    url: MediaUrl | None = None
    detail: Literal["auto", "low", "high"] | None = Field(default=None, description="OpenAI's image detail level")

    @model_validator(mode="after")
    def _inline_media_is_identified(self) -> MediaRef:
        if self.url is None and (self.sha256 is None or self.size_bytes is None or self.media_type is None):
            raise ValueError("media sent inline (no url) needs media_type, size_bytes and sha256")
        return self


ContentPart = Annotated[TextPart | MediaRef, Field(discriminator="type")]
"""One part of a message's content: text, or a reference to media."""


class FunctionCall(StrictModel):
    """The function a tool call invokes, and its arguments exactly as the model produced them."""

    name: Name
    arguments: ToolArguments = Field(description="JSON text as the model wrote it; not parsed, may be invalid JSON")


class ToolCall(StrictModel):
    """One tool call of an assistant message or a choice."""

    id: Identifier
    type: Literal["function"] = "function"
    function: FunctionCall


ToolCalls = Annotated[list[ToolCall], Field(max_length=MAX_TOOL_CALLS)]


class ChatMessage(StrictModel):
    """One message of the conversation sent to the model.

    ``content`` is a string, a list of parts (text and media references), or absent: an assistant message
    that only calls tools has none. ``tool_calls`` are an assistant's; a ``tool`` message answers the call
    named by ``tool_call_id`` and its ``content`` is the tool's result.
    """

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: LongText | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None = None
    name: Name | None = None
    tool_call_id: Identifier | None = None
    tool_calls: ToolCalls | None = None

    @model_validator(mode="after")
    def _tool_calls_are_the_assistants(self) -> ChatMessage:
        if self.role != "assistant" and (self.tool_calls is not None or self.content is None):
            raise ValueError(f"only an assistant message may carry tool_calls or omit content, not a {self.role!r} one")
        return self

    def text(self) -> str:
        """The message's text: the string content, or its text parts one per line ('' when none)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "\n".join(part.text for part in self.content if isinstance(part, TextPart))


Token = Annotated[str, StringConstraints(max_length=256)]
Logprob = Annotated[float, Field(ge=-1e9, le=0, allow_inf_nan=False)]


class TopLogprob(StrictModel):
    """An alternative token at one position, with its log probability."""

    token: Token
    logprob: Logprob


class TokenLogprob(StrictModel):
    """One generated token, its log probability and the most likely alternatives (``top_logprobs``)."""

    token: Token
    logprob: Logprob
    top_logprobs: Annotated[list[TopLogprob], Field(max_length=MAX_TOP_LOGPROBS)] | None = None


class Choice(StrictModel):
    """One of the ``n`` answers of a call: its text, why it ended, the tools it called, and its logprobs."""

    output: LongText | None = None
    finish_reason: Name | None = None
    tool_calls: ToolCalls | None = None
    refusal: LongText | None = Field(default=None, description="The model's refusal message, where it gave one")
    logprobs: Annotated[list[TokenLogprob], Field(max_length=MAX_LOGPROB_TOKENS)] | None = Field(
        default=None, description="Per output token, when the request asked for logprobs (the first tokens only)"
    )


class TokenUsage(StrictModel):
    """Token counts as reported by the provider (or counted by the gateway), with their details.

    ``prompt_tokens`` counts every input token, cached ones and cache writes included (OpenAI's meaning;
    Anthropic's ``input_tokens`` excludes both, so translate by adding them). ``completion_tokens`` includes
    reasoning tokens (OpenAI's meaning; add Gemini's ``thoughts_token_count``).
    """

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)
    cached_prompt_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Prompt tokens read from the provider's cache (OpenAI prompt_tokens_details.cached_tokens, "
        "Anthropic cache_read_input_tokens, Gemini cached_content_token_count)",
    )
    cache_write_tokens: int | None = Field(
        default=None, ge=0, description="Prompt tokens written to the cache (Anthropic cache_creation_input_tokens)"
    )
    reasoning_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Completion tokens spent reasoning (OpenAI completion_tokens_details.reasoning_tokens, "
        "Gemini thoughts_token_count)",
    )

    @model_validator(mode="after")
    def _details_add_up(self) -> TokenUsage:
        if self.total_tokens < self.prompt_tokens + self.completion_tokens:
            raise ValueError("total_tokens must be at least prompt_tokens + completion_tokens")
        if (self.cached_prompt_tokens or 0) + (self.cache_write_tokens or 0) > self.prompt_tokens:
            raise ValueError("cached_prompt_tokens + cache_write_tokens cannot exceed prompt_tokens")
        if (self.reasoning_tokens or 0) > self.completion_tokens:
            raise ValueError("reasoning_tokens cannot exceed completion_tokens, which include them")
        return self


def tool_arguments(messages: Sequence[ChatMessage], choices: Sequence[Choice]) -> list[str]:
    """The arguments of every tool call, in the messages first, then in the choices (what search reads)."""
    calls = [c for m in messages for c in m.tool_calls or ()]
    calls += [c for choice in choices for c in choice.tool_calls or ()]
    return [c.function.arguments for c in calls]
