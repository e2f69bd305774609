"""The OpenAPI description of ``POST /v1/messages``: Anthropic's ``Message`` and error bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmops_inference.entrypoints.openapi import SSE_EVENT

__all__ = ["messages_responses"]


class AnthropicUsage(BaseModel):
    input_tokens: int = Field(ge=0, description="Prompt tokens not read from or written to a cache")
    output_tokens: int = Field(ge=0)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0)
    cache_read_input_tokens: int | None = Field(default=None, ge=0)


class AnthropicContentOut(BaseModel):
    """A ``text`` block (``text``) or a ``tool_use`` block (``id``, ``name``, ``input``)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "tool_use"]


class AnthropicMessage(BaseModel):
    """Anthropic's ``Message`` (``stream: false``); with ``stream: true`` the answer is ``text/event-stream``."""

    id: str = Field(description="msg-..., also the recorded call_id")
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[AnthropicContentOut]
    stop_reason: Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"] | None
    stop_sequence: str | None
    usage: AnthropicUsage


class AnthropicErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error, api_error, ...")
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error body."""

    type: Literal["error"]
    error: AnthropicErrorDetail


ERRORS: dict[int, str] = {
    400: "Malformed JSON, an invalid or unsupported field (named), max_tokens over the limit, a prompt extension "
    "that cannot be rendered",
    401: "Missing or unknown API key (`x-api-key` or `Authorization: Bearer`)",
    403: "The key's role lacks `inference:invoke`",
    404: "Unknown model, or an unknown prompt, label or version",
    413: "Body or prompt over the size limit",
    429: "Rate limit, budget or upstream rate limit; see Retry-After",
    500: "The upstream failed or answered nonsense",
    504: "The upstream did not answer in time",
    529: "No upstream available (unreachable, circuit open) or the gateway is starting",
}


def messages_responses() -> dict[int | str, dict[str, Any]]:
    """The route's answers: a ``Message`` (or its event stream) and Anthropic-shaped errors."""
    events = {"text/event-stream": {"schema": SSE_EVENT | {"description": "One Anthropic event (`event:` + data)"}}}
    described: dict[int | str, dict[str, Any]] = {
        200: {"model": AnthropicMessage, "description": "OK", "content": events}
    }
    for status, what in ERRORS.items():
        described[status] = {"model": AnthropicError, "description": what}
    return described
