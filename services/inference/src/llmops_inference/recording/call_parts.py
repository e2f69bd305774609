"""What the gateway saw, as the parts of ``llmops.call.recorded.v2``: messages with their tool calls and image
references, the answer's choices, usage details and the summary of what the request asked for.

Every value is brought within the contract's bounds here (texts and arguments cut, ids made identifiers,
numbers that do not add up left out), so a call is never lost over what an upstream or a client sent. Images
are recorded as references: an http(s) URL as given, base64 data by media type, size and SHA-256, never bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from llmops_schemas.v1.calls import MAX_TEXT
from llmops_schemas.v2 import (
    ChatMessage,
    Choice,
    ContentPart,
    FunctionCall,
    MediaRef,
    RequestSummary,
    ResponseFormat,
    TextPart,
    TokenLogprob,
    TokenUsage,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    TopLogprob,
)
from llmops_schemas.v2.call_parts import MAX_CHOICES, MAX_SCHEMA_TEXT, MAX_TOOL_ARGUMENTS, MAX_TOOLS, MAX_TOP_LOGPROBS
from pydantic_core import to_json

from llmops_inference.api_messages import ChatMessageIn, ImagePart
from llmops_inference.api_messages import TextPart as TextPartIn
from llmops_inference.api_models import ChatCompletionRequest, GenerationParams
from llmops_inference.choices import AnsweredChoice
from llmops_inference.domain import Usage

__all__ = ["recorded_chat", "recorded_choices", "recorded_usage", "request_summary"]

ROLES = {"function": "tool"}
NOT_ID = re.compile(r"[^A-Za-z0-9._:@/-]")
SUMMARISED = frozenset(
    {"tools", "functions", "tool_choice", "function_call", "parallel_tool_calls", "response_format", "n"}
    | {"logprobs", "top_logprobs"}
)
DETAILS = frozenset({"auto", "low", "high"})
PLAIN_MESSAGE = frozenset({"role", "content", "name"})


def recorded_chat(messages: Sequence[ChatMessageIn]) -> list[ChatMessage]:
    """The request's messages (at most 1,024): text, image references, tool calls and tool results."""
    return [_message(message) for message in messages[:1024]]


def _message(message: ChatMessageIn) -> ChatMessage:
    role = ROLES.get(message.role, message.role)
    content = message.content
    if type(content) is str and message.model_fields_set <= PLAIN_MESSAGE:
        return ChatMessage(role=role, content=content[:MAX_TEXT], name=message.name)  # the common message
    recorded: str | list[ContentPart] | None
    if isinstance(content, list):
        recorded = [_part(part) for part in content]
    else:
        recorded = content[:MAX_TEXT] if content is not None else ("" if role != "assistant" else None)
    calls = message.tool_calls
    if calls is None and isinstance(message.model_extra, dict) and message.model_extra.get("function_call"):
        calls = [{"id": "function_call", "type": "function", "function": message.model_extra["function_call"]}]
    return ChatMessage(
        role=role,
        content=recorded,
        name=message.name,
        tool_call_id=identifier(message.tool_call_id) if message.tool_call_id else None,
        tool_calls=_tool_calls(calls) if calls and role == "assistant" else None,
    )


def _part(part: Any) -> ContentPart:
    if isinstance(part, TextPartIn):
        return TextPart(type="text", text=part.text[:MAX_TEXT])
    if isinstance(part, ImagePart):
        return _image(part)
    return TextPart(type="text", text=str(getattr(part, "refusal", ""))[:MAX_TEXT])  # an assistant's refusal


def _image(part: ImagePart) -> MediaRef:
    detail = part.image_url.detail if part.image_url.detail in DETAILS else None
    inline = part.inline()
    if inline is None:
        return MediaRef(type="image", url=part.image_url.url, detail=detail)
    return MediaRef(
        type="image",
        media_type=inline.media_type,
        size_bytes=inline.size_bytes,
        sha256=inline.sha256,
        detail=detail,
    )


def identifier(value: str) -> str:
    """``value`` as an event identifier: characters outside ``[A-Za-z0-9._:@/-]`` replaced, at most 128."""
    cleaned = NOT_ID.sub("_", value)[:128]
    return cleaned if cleaned[:1].isalnum() else ("x" + cleaned)[:128]


def _tool_calls(calls: Sequence[Any]) -> list[ToolCall] | None:
    """Function calls with their arguments (a custom tool's input as its arguments)."""
    recorded = []
    for position, call in enumerate(calls[:128]):
        kind = call.get("type")
        body = call.get(kind if isinstance(kind, str) else "function")
        body = body if isinstance(body, dict) else {}
        name = str(body.get("name") or "unknown")[:256]
        arguments = body.get("arguments", body.get("input", ""))
        recorded.append(
            ToolCall(
                id=identifier(str(call.get("id") or f"call_{position}")),
                function=FunctionCall(name=name, arguments=str(arguments)[:MAX_TOOL_ARGUMENTS]),
            )
        )
    return recorded or None


def recorded_choices(choices: Sequence[AnsweredChoice]) -> list[Choice]:
    """The answer's choices in index order (at most the contract's 128)."""
    return [_choice(choice) for choice in sorted(choices, key=lambda c: c.index)[:MAX_CHOICES]]


def _choice(choice: AnsweredChoice) -> Choice:
    calls = _tool_calls(choice.tool_calls) if choice.tool_calls else None
    return Choice(
        output=choice.text[:MAX_TEXT] if choice.text or not calls else None,
        finish_reason=(choice.finish_reason or "")[:256] or None,
        tool_calls=calls,
        refusal=choice.refusal[:MAX_TEXT] if choice.refusal is not None else None,
        logprobs=_logprobs(choice.logprobs) if choice.logprobs is not None else None,
    )


def _logprobs(entries: list[dict[str, Any]]) -> list[TokenLogprob]:
    recorded = []
    for entry in entries:
        value = _logprob(entry.get("logprob"))
        if value is None:
            continue
        tops = entry.get("top_logprobs")
        tops = tops if isinstance(tops, list) else []
        alternatives = [
            TopLogprob(token=str(top.get("token"))[:256], logprob=top_value)
            for top in tops[:MAX_TOP_LOGPROBS]
            if isinstance(top, dict) and (top_value := _logprob(top.get("logprob"))) is not None
        ]
        recorded.append(TokenLogprob(token=str(entry.get("token"))[:256], logprob=value, top_logprobs=alternatives))
    return recorded


def _logprob(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return max(-1e9, min(0.0, float(value)))


def recorded_usage(usage: Usage) -> TokenUsage:
    """The counts, and the cached and reasoning tokens where they add up (an upstream's nonsense is left out)."""
    if usage.details is None:
        return TokenUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )
    cached, writes, reasoning = usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens
    cached = cached if cached is not None and cached <= usage.prompt_tokens else None
    return TokenUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cached_prompt_tokens=cached,
        cache_write_tokens=writes if writes is not None and (cached or 0) + writes <= usage.prompt_tokens else None,
        reasoning_tokens=reasoning if reasoning is not None and reasoning <= usage.completion_tokens else None,
    )


def request_summary(request: GenerationParams) -> RequestSummary | None:
    """What the request asked for beyond text (tools, tool choice, output format, ``n``, logprobs); None for a
    plain request, which pays for one set intersection."""
    if not request.model_fields_set & SUMMARISED:
        return None
    logprobs, top = getattr(request, "logprobs", None), getattr(request, "top_logprobs", None)
    if isinstance(request, ChatCompletionRequest):
        tools = [*(request.tools or ()), *({"type": "function", "function": f} for f in request.functions or ())]
        choice = request.tool_choice if request.tool_choice is not None else request.function_call
        return RequestSummary(
            tools=_tools(tools) if tools else None,
            tool_choice=_tool_choice(choice),
            parallel_tool_calls=request.parallel_tool_calls,
            response_format=_response_format(request.response_format),
            n=request.n,
            logprobs=logprobs,
            top_logprobs=top,
            stream=request.stream,
        )
    # a text completion's logprobs is how many alternatives per token
    top = logprobs if isinstance(logprobs, int) and not isinstance(logprobs, bool) else None
    return RequestSummary(n=request.n, logprobs=None if top is None else True, top_logprobs=top, stream=request.stream)


def _tools(tools: list[dict[str, Any]]) -> list[ToolDefinition]:
    recorded = []
    for tool in tools[:MAX_TOOLS]:
        body = tool.get(tool.get("type") or "function") or {}
        strict = body.get("strict")
        recorded.append(
            ToolDefinition(
                name=str(body.get("name"))[:256],
                description=str(body["description"])[:16_384] if body.get("description") is not None else None,
                parameters=_schema_text(body.get("parameters")),
                strict=strict if isinstance(strict, bool) else None,
            )
        )
    return recorded


def _schema_text(schema: Any) -> str | None:
    """The schema as JSON text; None when there is none or it is over the contract's bound."""
    if schema is None:
        return None
    text = to_json(schema).decode()
    return text if len(text) <= MAX_SCHEMA_TEXT else None


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice in ("none", "auto", "required"):
        return ToolChoice(mode=choice)
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "allowed_tools":
        mode = (choice.get("allowed_tools") or {}).get("mode")
        return ToolChoice(mode=mode) if mode in ("auto", "required") else None
    named = choice.get(choice.get("type") or "function", choice)  # the deprecated function_call is {"name"}
    name = named.get("name") if isinstance(named, dict) else None
    return ToolChoice(mode="function", function=str(name)[:256]) if name else None


def _response_format(response_format: dict[str, Any] | None) -> ResponseFormat | None:
    if response_format is None or response_format.get("type") not in ("text", "json_object", "json_schema"):
        return None
    spec = response_format.get("json_schema")
    spec = spec if isinstance(spec, dict) else {}
    strict = spec.get("strict")
    return ResponseFormat(
        type=response_format["type"],
        name=str(spec["name"])[:256] if spec.get("name") else None,
        strict=strict if isinstance(strict, bool) else None,
        json_schema=_schema_text(spec.get("schema")),
    )
