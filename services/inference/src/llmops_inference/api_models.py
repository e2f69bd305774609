"""The OpenAI-compatible request bodies the gateway accepts.

Unknown fields are kept on the model (``model_extra``) so the prompt and experiment seams can read their own
extensions, but they are never forwarded to an upstream: only the fields declared here are. That is also why a
``base_url`` or ``api_base`` in a body has no effect: upstream addresses come from the routes file alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "CHAIN_FIELD",
    "PROMPT_FIELD",
    "SAMPLING_FIELDS",
    "ChatCompletionRequest",
    "ChatMessageIn",
    "CompletionRequest",
    "EmbeddingRequest",
    "GenerationParams",
    "StreamOptions",
    "TextPart",
    "copy_with",
]

INT64_MAX = 2**63 - 1
PROMPT_FIELD = "prompt"
"""Chat extension field naming a registered prompt version to render (``{"name", "label" | "version", ...}``)."""
CHAIN_FIELD = "chain"
"""Chat extension field of a prompt chain (``{"steps": [{"output", "prompt"}, ...], "variables": {...}}``)."""
SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "stop", "seed")
"""The request fields a prompt version's or an experiment variant's ``CallParameters`` may set."""
UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call")
"""Fields of OpenAI's API this gateway does not implement: refused (400) rather than silently ignored."""

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
StopText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Penalty = Annotated[float, Field(ge=-2, le=2, strict=True)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Metadata = Annotated[dict[MetadataKey, Annotated[str, StringConstraints(max_length=512)]], Field(max_length=16)]


class TextPart(BaseModel):
    """A text content part (the only kind of part the gateway accepts)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    """One message of a chat request."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | Annotated[list[TextPart], Field(max_length=256)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    tool_call_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    def text(self) -> str:
        """The message's text, with content parts joined."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk with the call's token usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class GenerationParams(BaseModel):
    """Sampling parameters common to chat and text completions."""

    model_config = ConfigDict(extra="allow")

    model: ModelName
    max_tokens: int | None = Field(default=None, ge=1, strict=True)
    temperature: float | None = Field(default=None, ge=0, le=2, strict=True)
    top_p: float | None = Field(default=None, gt=0, le=1, strict=True)
    n: int = Field(default=1, ge=1, le=1, strict=True, description="Only one choice per request is supported")
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: StopText | Annotated[list[StopText], Field(max_length=16)] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=INT64_MAX, strict=True)
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    user: Annotated[str, StringConstraints(max_length=256)] | None = None
    metadata: Metadata | None = Field(default=None, description="Up to 16 string pairs, recorded with the call")

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in UNSUPPORTED:
                if data.get(name) is not None:
                    raise ValueError(f"'{name}' is not supported by this gateway")
        return data

    def stop_list(self) -> list[str]:
        """``stop`` as a list (OpenAI accepts one string or a list)."""
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def include_usage(self) -> bool:
        return self.stream and self.stream_options is not None and self.stream_options.include_usage


class ChatCompletionRequest(GenerationParams):
    """``POST /v1/chat/completions``."""

    messages: Annotated[list[ChatMessageIn], Field(max_length=1024)] = Field(
        default_factory=list, description="Required unless a prompt extension field renders them"
    )
    max_completion_tokens: int | None = Field(default=None, ge=1, description="Newer name of max_tokens; wins")

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def prompt_chars(self) -> int:
        return sum(len(m.text()) for m in self.messages)


class CompletionRequest(GenerationParams):
    """``POST /v1/completions`` (legacy text completions): one prompt string."""

    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]
    echo: Literal[False] = False

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens

    def prompt_chars(self) -> int:
        return len(self.prompt_text())


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``: one string or a list of strings."""

    model_config = ConfigDict(extra="allow")

    model: ModelName
    input: str | Annotated[list[str], Field(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    user: Annotated[str, StringConstraints(max_length=256)] | None = None

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)

    def prompt_chars(self) -> int:
        return sum(len(t) for t in self.texts())


RequestT = TypeVar("RequestT", bound=BaseModel)


def copy_with(
    request: RequestT,
    *,
    fields: Mapping[str, Any] | None = None,
    extensions: Mapping[str, Any] | None = None,
    drop: Collection[str] = (),
) -> RequestT:
    """A copy of ``request`` with declared ``fields`` replaced and its extension fields (``model_extra``) the
    request's, less ``drop``, with ``extensions`` over them.

    The request stays as the caller sent it: the copy gets a dict of its own (pydantic's ``model_copy`` copies
    the extras dict shallowly, so the values in it are shared, and none is changed here).
    """
    copy = request.model_copy(update=dict(fields or {}))
    kept = {name: value for name, value in (request.model_extra or {}).items() if name not in drop}
    copy.__pydantic_extra__ = {**kept, **(extensions or {})}
    return copy
