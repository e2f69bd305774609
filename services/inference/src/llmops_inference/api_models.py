"""The OpenAI-compatible request bodies the gateway accepts.

No field is accepted and dropped (ADR 0016). The fields the gateway acts on are declared and validated here
(sampling, ``n``, ``tools``, ``response_format``, messages and their content parts); every other field is kept
as sent (``model_extra``) and, with the declared ones the gateway does not consume, is what
:meth:`GenerationParams.forwarded` hands the backend: an OpenAI-compatible upstream gets them unchanged, a
backend that cannot do one refuses the call naming it. The gateway's own extension fields (``prompt``,
``chain``) are read by the prompt seams and never forwarded. Upstream addresses come from the routes file
alone: ``base_url``, ``api_key`` and the like in a body are refused (``features.STEERING``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from llmops_inference.api_messages import ChatMessageIn, ContentPart, ImagePart, TextPart

__all__ = [
    "CHAIN_FIELD",
    "EXTENSION_FIELDS",
    "PROMPT_FIELD",
    "SAMPLING_FIELDS",
    "ChatCompletionRequest",
    "ChatMessageIn",
    "CompletionRequest",
    "ContentPart",
    "EmbeddingRequest",
    "GenerationParams",
    "ImagePart",
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
EXTENSION_FIELDS = frozenset({PROMPT_FIELD, CHAIN_FIELD})
"""The gateway's own chat fields: consumed by the prompt seams, never forwarded."""

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
StopText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Penalty = Annotated[float, Field(ge=-2, le=2, strict=True)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Metadata = Annotated[dict[MetadataKey, Annotated[str, StringConstraints(max_length=512)]], Field(max_length=16)]


class StreamOptions(BaseModel):
    """``stream_options``: ``include_usage`` adds a last chunk with the call's token usage; other options are
    forwarded."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(default=False, strict=True)


class GenerationParams(BaseModel):
    """Sampling parameters common to chat and text completions."""

    model_config = ConfigDict(extra="allow")

    FORWARDED: ClassVar[frozenset[str]] = frozenset(
        {"n", "stream_options", "presence_penalty", "frequency_penalty", "user", "metadata", "logprobs", "echo"}
    )
    """Declared fields the gateway validates but does not consume: forwarded with the undeclared ones."""

    model: ModelName
    max_tokens: int | None = Field(default=None, ge=1, strict=True)
    temperature: float | None = Field(default=None, ge=0, le=2, strict=True)
    top_p: float | None = Field(default=None, gt=0, le=1, strict=True)
    n: int | None = Field(default=None, ge=1, strict=True, description="Choices to generate; at most INFERENCE_MAX_N")
    stream: bool = Field(default=False, strict=True)
    stream_options: StreamOptions | None = None
    stop: StopText | Annotated[list[StopText], Field(max_length=16)] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=INT64_MAX, strict=True)
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    user: Annotated[str, StringConstraints(max_length=256)] | None = None
    metadata: Metadata | None = Field(default=None, description="Up to 16 string pairs, recorded with the call")

    def stop_list(self) -> list[str]:
        """``stop`` as a list (OpenAI accepts one string or a list)."""
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def include_usage(self) -> bool:
        return self.stream and self.stream_options is not None and self.stream_options.include_usage

    def choices(self) -> int:
        """How many choices the call asks for (``n``, 1 when not sent)."""
        return self.n or 1

    def forwarded(self) -> dict[str, Any]:
        """Every field the caller sent that the gateway does not consume itself, as sent: the declared ones of
        :attr:`FORWARDED` and every undeclared one but the gateway's extension fields."""
        extra, fields = self.model_extra, self.model_fields_set
        if not extra and fields.isdisjoint(self.FORWARDED):
            return {}  # a plain request
        # A declared field set to null is the same request as one without it (a shadow copy's stream_options).
        sent = {
            name: value for name in self.model_fields_set & self.FORWARDED if (value := getattr(self, name)) is not None
        }
        if "stream_options" in sent:
            sent["stream_options"] = sent["stream_options"].model_dump(exclude_unset=True)
        if extra:
            sent.update((name, value) for name, value in extra.items() if name not in EXTENSION_FIELDS)
        return sent


def _refused(name: str, what: str) -> PydanticCustomError:
    return PydanticCustomError(
        "unsupported_parameter", "'{name}' ({what}) is not supported by this gateway", {"name": name, "what": what}
    )


class ChatCompletionRequest(GenerationParams):
    """``POST /v1/chat/completions``."""

    FORWARDED: ClassVar[frozenset[str]] = GenerationParams.FORWARDED | {
        "max_completion_tokens",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "response_format",
        "top_logprobs",
        "modalities",
    }

    messages: Annotated[list[ChatMessageIn], Field(max_length=1024)] = Field(
        default_factory=list, description="Required unless a prompt extension field renders them"
    )
    max_completion_tokens: int | None = Field(
        strict=True, default=None, ge=1, description="Newer name of max_tokens; wins"
    )
    tools: Annotated[list[dict[str, Any]], Field(max_length=128)] | None = Field(
        default=None, description="Function (or custom) tools; each schema checked and bounded"
    )
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = Field(default=None, strict=True)
    functions: Annotated[list[dict[str, Any]], Field(max_length=128)] | None = None
    function_call: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = Field(
        default=None, description="`text`, `json_object`, or `json_schema` (with `strict`); the schema is bounded"
    )
    logprobs: bool | None = Field(default=None, strict=True)
    top_logprobs: int | None = Field(default=None, ge=0, le=20, strict=True)
    modalities: list[str] | None = Field(default=None, description="Only `text`: audio output is refused")
    audio: Any = Field(default=None, description="Refused: the gateway does not produce audio")

    @field_validator("modalities")
    @classmethod
    def _text_only(cls, modalities: list[str] | None) -> list[str] | None:
        if modalities is not None and "audio" in modalities:
            raise _refused("modalities", "audio output")
        return modalities

    @field_validator("audio")
    @classmethod
    def _no_audio(cls, audio: Any) -> Any:
        if audio is not None:
            raise _refused("audio", "audio output")
        return audio

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def prompt_chars(self) -> int:
        return sum(len(m.text()) for m in self.messages)


class CompletionRequest(GenerationParams):
    """``POST /v1/completions`` (legacy text completions): one prompt string."""

    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]
    echo: bool | None = Field(default=None, strict=True)
    logprobs: int | None = Field(default=None, ge=0, le=5, strict=True)

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
    dimensions: int | None = Field(strict=True, default=None, ge=1, le=65_536)
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
