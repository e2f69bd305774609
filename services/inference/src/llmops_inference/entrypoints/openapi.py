"""The OpenAPI description of the gateway's routes.

The routes read their bodies themselves (a size limit before parsing, OpenAI-shaped 400s), so FastAPI cannot
infer the request schemas: they are generated here from the same pydantic models that validate requests.
Responses are described with small models of OpenAI's bodies.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from llmops_kit.auth import declares
from pydantic import BaseModel, ConfigDict, Field

from llmops_inference.anthropic_front.models import MessagesRequest
from llmops_inference.api_models import ChatCompletionRequest, CompletionRequest, EmbeddingRequest

__all__ = ["ERRORS", "body", "install_openapi", "responses"]

_REF = "#/components/schemas/{model}"
REQUESTS: dict[str, type[BaseModel]] = {
    "ChatCompletionRequest": ChatCompletionRequest,
    "CompletionRequest": CompletionRequest,
    "EmbeddingRequest": EmbeddingRequest,
    "MessagesRequest": MessagesRequest,
}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """OpenAI's error body."""

    error: ErrorDetail


class UsageOut(BaseModel):
    """Token counts; the upstream's details (``prompt_tokens_details.cached_tokens``...) are relayed too."""

    model_config = ConfigDict(extra="allow")

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(ge=0)


class AssistantMessage(BaseModel):
    """The upstream's message as it gave it (``tool_calls``, ``annotations``... relayed)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | None
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatChoice(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int
    message: AssistantMessage
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None


class ChatCompletion(BaseModel):
    """A chat completion (``stream: false``); with ``stream: true`` the answer is ``text/event-stream``."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="chatcmpl-..., also the recorded call_id")
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: UsageOut


class TextChoice(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int
    text: str
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None


class Completion(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    object: str
    created: int
    model: str
    choices: list[TextChoice]
    usage: UsageOut


class EmbeddingOut(BaseModel):
    object: str
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of little-endian float32")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: str
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage


class ModelOut(BaseModel):
    id: str
    object: str
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: str
    data: list[ModelOut]


SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One server-sent event (`stream: true`): a chunk as JSON, `[DONE]` last",
    "required": ["data"],
    "properties": {"data": {"type": "string"}},
}
"""How OpenAPI 3.1 describes an event stream: the schema of each event."""

ERRORS: dict[int, str] = {
    400: "Malformed JSON, an invalid parameter, max_tokens or n over the limit, a malformed tool or schema, a "
    "tool result without its call, an unsupported content type, or a feature the model's backend cannot do",
    401: "Missing or unknown API key",
    403: "The key's role lacks `inference:invoke`",
    404: "Unknown model (`model_not_found`), or an unknown prompt, label or version (`prompt` or a `chain` step)",
    413: "Body, prompt, image or JSON Schema over the size limit",
    422: "A `prompt` or `chain` field is malformed, a variable is missing, or a template could not be rendered",
    429: "Rate limit (`requests`/`tokens`), budget (`insufficient_quota`) or upstream rate limit; see Retry-After",
    502: "The upstream failed or answered nonsense",
    503: "No upstream available (unreachable, circuit open) or the gateway is starting",
    504: "The upstream did not answer in time",
}


def body(model_name: str) -> dict[str, Any]:
    """``openapi_extra`` declaring the JSON request body of a route and its API key (the route authenticates
    by calling ``invoker``, which FastAPI cannot see).
    """
    schema = {"$ref": _REF.format(model=model_name)}
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}, **declares("inference:invoke")}


FEEDBACK_TOKEN_HEADER: dict[str, Any] = {
    "X-LLMOps-Feedback-Token": {
        "description": (
            "Sent when the gateway has LLMOPS_FEEDBACK_TOKEN_SECRET: a signed, expiring token that lets the end "
            "user rate this one call at the feedback service without a key (docs/feedback.md)"
        ),
        "schema": {"type": "string"},
    }
}


def responses(
    ok: type[BaseModel],
    *,
    streams: bool = False,
    errors: tuple[int, ...] = tuple(ERRORS),
    feedback_token: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """The route's answers: ``ok`` (and SSE when it streams), the headers of a recorded call's answer
    (``feedback_token``) and the OpenAI-shaped errors it can give."""
    success: dict[str, Any] = {"model": ok, "description": "OK"}
    if streams:
        success["content"] = {"text/event-stream": {"schema": SSE_EVENT}}
    if feedback_token:
        success["headers"] = FEEDBACK_TOKEN_HEADER
    described: dict[int | str, dict[str, Any]] = {200: success}
    for status in errors:
        described[status] = {"model": ErrorResponse, "description": ERRORS[status]}
    return described


def install_openapi(app: FastAPI) -> None:
    """Add the request schemas to the components (FastAPI builds the rest)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for name, model in REQUESTS.items():
                schema = model.model_json_schema(ref_template=_REF)
                for def_name, definition in schema.pop("$defs", {}).items():
                    components.setdefault(def_name, definition)
                components[name] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
