"""The Anthropic Messages API request body ``POST /v1/messages`` accepts (the Claude SDK's ``messages.create``).

Every field is declared; any other is refused (400 naming it and the model) rather than dropped, as on the
OpenAI front (ADR 0019). Content block types the gateway cannot translate (documents, thinking, server tool
results...) are refused by name. ``cache_control`` is accepted (top level, blocks, tools, system prompt): it is a
caching hint with no effect on the answer, and OpenAI-format backends cache prompts by themselves.

These are this front's own wire types; the native Anthropic *upstream* adapter (``adapters/native``) reads the
same format from the other side with plain dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "BLOCK_TYPES",
    "AnthropicContentBlock",
    "AnthropicImageBlock",
    "AnthropicMessageIn",
    "AnthropicTextBlock",
    "AnthropicToolChoice",
    "AnthropicToolResultBlock",
    "AnthropicToolSpec",
    "AnthropicToolUseBlock",
    "MessagesRequest",
]

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
BLOCK_TYPES = frozenset({"text", "image", "tool_use", "tool_result"})
CLIENT_TOOL_TYPES = frozenset({"custom"})
"""A tool without ``type`` is a client tool too; any other type is a server tool Anthropic runs itself."""
REFUSED_BLOCKS = {
    "document": "documents",
    "search_result": "search results",
    "thinking": "extended thinking",
    "redacted_thinking": "extended thinking",
    "server_tool_use": "server tools",
    "web_search_tool_result": "server tools",
    "container_upload": "the Files API",
}
"""Anthropic block types with no equivalent in the OpenAI format the gateway speaks to its backends."""

ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ToolId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
StopText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnthropicCacheControl(_Strict):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class AnthropicTextBlock(_Strict):
    type: Literal["text"]
    text: str
    cache_control: AnthropicCacheControl | None = None


class AnthropicBase64Source(_Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: Annotated[str, StringConstraints(min_length=1)]


class AnthropicUrlSource(_Strict):
    type: Literal["url"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=8192)]


class AnthropicImageBlock(_Strict):
    """An image, inline (base64) or by URL; the gateway's image bounds apply to the translated request."""

    type: Literal["image"]
    source: Annotated[AnthropicBase64Source | AnthropicUrlSource, Field(discriminator="type")]
    cache_control: AnthropicCacheControl | None = None


class AnthropicToolUseBlock(_Strict):
    """A tool call the assistant made (sent back in the conversation)."""

    type: Literal["tool_use"]
    id: ToolId
    name: ToolName
    input: dict[str, Any]
    cache_control: AnthropicCacheControl | None = None


AnthropicResultPart = Annotated[AnthropicTextBlock | AnthropicImageBlock, Field(discriminator="type")]


class AnthropicToolResultBlock(_Strict):
    """What a tool returned, answering the ``tool_use`` of the same id in the previous assistant message."""

    type: Literal["tool_result"]
    tool_use_id: ToolId
    content: str | Annotated[list[AnthropicResultPart], Field(max_length=256)] = ""
    is_error: StrictBool | None = None
    cache_control: AnthropicCacheControl | None = None


AnthropicContentBlock = Annotated[
    AnthropicTextBlock | AnthropicImageBlock | AnthropicToolUseBlock | AnthropicToolResultBlock,
    Field(discriminator="type"),
]


class AnthropicMessageIn(_Strict):
    """One turn: text, or a list of content blocks (a ``system`` message in the list: text only)."""

    role: Literal["user", "assistant", "system"]
    content: str | Annotated[list[AnthropicContentBlock], Field(max_length=256)]

    @field_validator("content", mode="before")
    @classmethod
    def _refuse_untranslatable(cls, content: Any) -> Any:
        kind = _first_other_type(content, BLOCK_TYPES)
        if kind is not None:
            what = REFUSED_BLOCKS.get(kind, "an unknown block type")
            raise PydanticCustomError(
                "unsupported_content_type",
                "content block type '{kind}' ({what}) is not supported by this gateway",
                {"kind": kind, "what": what},
            )
        return content


class AnthropicToolSpec(_Strict):
    """A client tool: its name, description and JSON Schema of its input (server tools are refused)."""

    name: ToolName
    description: str | None = None
    input_schema: dict[str, Any]
    type: Literal["custom"] | None = None
    cache_control: AnthropicCacheControl | None = None
    strict: StrictBool | None = None


class AnthropicToolChoice(_Strict):
    """``auto``, ``any`` (some tool), ``tool`` (the one named) or ``none``."""

    type: Literal["auto", "any", "tool", "none"]
    name: ToolName | None = None
    disable_parallel_tool_use: StrictBool | None = None


class AnthropicOutputFormat(_Strict):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class AnthropicOutputConfig(_Strict):
    """Structured output (a JSON Schema the answer follows) and reasoning effort."""

    format: AnthropicOutputFormat | None = None
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None


class AnthropicMetadata(_Strict):
    user_id: Annotated[str, StringConstraints(max_length=256)] | None = None


class MessagesRequest(_Strict):
    """``POST /v1/messages``: Anthropic's Messages API body."""

    model: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    max_tokens: int = Field(ge=1, strict=True, description="Required, as in Anthropic's API")
    messages: Annotated[list[AnthropicMessageIn], Field(max_length=1024)] = Field(
        default_factory=list, description="Required unless the `prompt` extension field renders them"
    )
    system: str | Annotated[list[AnthropicTextBlock], Field(max_length=256)] | None = None
    stop_sequences: Annotated[list[StopText], Field(max_length=16)] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1, strict=True)
    top_p: float | None = Field(default=None, gt=0, le=1, strict=True)
    top_k: int | None = Field(default=None, ge=1, strict=True, description="Refused by backends that cannot do it")
    tools: Annotated[list[AnthropicToolSpec], Field(max_length=128)] | None = None
    tool_choice: AnthropicToolChoice | None = None
    output_config: AnthropicOutputConfig | None = Field(
        default=None, description="`format` becomes a strict `json_schema` response_format, `effort` reasoning_effort"
    )
    metadata: AnthropicMetadata | None = Field(default=None, description="`user_id` is recorded as the call's user")
    stream: StrictBool = False
    cache_control: AnthropicCacheControl | None = Field(default=None, description="Accepted; no effect on the answer")
    prompt: dict[str, Any] | None = Field(
        default=None, description="Gateway extension: render a registered prompt version (as on chat completions)"
    )
    chain: dict[str, Any] | None = Field(
        default=None, description="Gateway extension: a prompt chain (as on chat completions)"
    )

    @field_validator("tools", mode="before")
    @classmethod
    def _refuse_server_tools(cls, tools: Any) -> Any:
        kind = _first_other_type(tools, CLIENT_TOOL_TYPES)
        if kind is not None:
            raise PydanticCustomError(
                "unsupported_tool",
                "tool type '{kind}' (a server tool) is not supported by this gateway",
                {"kind": kind},
            )
        return tools

    def user(self) -> str | None:
        return self.metadata.user_id if self.metadata else None


def _first_other_type(items: Any, allowed: frozenset[str]) -> str | None:
    """The first ``type`` in a list of objects that is not ``allowed`` (before the union names a tag it lacks)."""
    if not isinstance(items, list):
        return None
    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(kind, str) and kind not in allowed:
            return kind
    return None
