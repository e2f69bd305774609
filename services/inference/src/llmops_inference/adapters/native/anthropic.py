"""Anthropic's Messages API (``POST /v1/messages``) behind the OpenAI front: requests, answers and errors.

What maps where (and what is refused) is the table in docs/inference.md; the reasons are in ADR 0018. The
stream's translation is :mod:`llmops_inference.adapters.native.anthropic_stream`.
"""

from __future__ import annotations

import json
from typing import Any

from llmops_inference.adapters.http_transport import HttpAnswer
from llmops_inference.adapters.native.anthropic_stream import AnthropicStream, finish_reason, usage_of
from llmops_inference.adapters.native.common import (
    IMAGE_KEYS,
    TEXT_KEYS,
    Unsupported,
    check_message,
    completion,
    content_parts,
    data_url,
    function_arguments,
    function_of,
    image_url,
    refuse_other_keys,
    refuse_unknown_fields,
    stop_list,
    text_of,
    unsupported_endpoint,
)
from llmops_inference.adapters.native.transport import ProviderCall
from llmops_inference.adapters.native.upstream_errors import openai_error

__all__ = ["DEFAULT_VERSION", "AnthropicDialect"]

DEFAULT_VERSION = "2023-06-01"
"""The ``anthropic-version`` header unless the upstream's ``api_version`` names another."""
HANDLED = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stream",
        "stream_options", "tools", "tool_choice", "parallel_tool_calls", "response_format", "user",
        "reasoning_effort",
    }
)  # fmt: skip
CACHE_TTLS = {None: None, "30m": "1h"}
"""OpenAI's breakpoint ``ttl`` (a minimum) -> Anthropic's (none: its default, 5 minutes)."""
EFFORTS = frozenset({"low", "medium", "high", "xhigh"})
ERROR_STATUS = {529: 503}
"""Anthropic's own statuses in OpenAI's terms: 529 (overloaded) is a 503 (retried, falls back)."""


class AnthropicDialect:
    """The Messages API: ``x-api-key`` and ``anthropic-version`` headers, ``<base_url>/v1/messages``."""

    api = "Anthropic Messages API"

    def __init__(self, version: str | None = None) -> None:
        self._version = version or DEFAULT_VERSION

    def headers(self, key: str | None) -> dict[str, str]:
        auth = {"x-api-key": key} if key else {}
        return {**auth, "anthropic-version": self._version}

    def call(self, base_url: str, endpoint: str, body: dict[str, Any]) -> ProviderCall:
        if endpoint != "chat/completions":
            raise unsupported_endpoint(endpoint, "only chat completions can be translated")
        return ProviderCall(f"{base_url}/v1/messages", to_anthropic(body))

    def answer(self, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return from_anthropic(data, str(body.get("model")))

    def stream(self, body: dict[str, Any]) -> AnthropicStream:
        return AnthropicStream(str(body.get("model")), include_usage=_include_usage(body))

    def error(self, answer: HttpAnswer) -> HttpAnswer:
        return openai_error(answer, ERROR_STATUS, _error_message)


def to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI Chat Completions body as a Messages API body; raises :class:`Unsupported`."""
    refuse_unknown_fields(body, HANDLED)
    system, messages = _messages(body.get("messages") or [])
    out: dict[str, Any] = {"model": body["model"], "messages": messages}
    out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens")
    if system:
        out["system"] = system
    _sampling(body, out)
    _tools(body, out)
    _output(body, out)
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    if body.get("stream"):
        out["stream"] = True
    return out


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if temperature is not None:
        if temperature > 1:
            raise Unsupported("temperature", "Anthropic's range is 0 to 1")
        out["temperature"] = temperature
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    if stops := stop_list(body.get("stop")):
        out["stop_sequences"] = stops


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    if tools:
        out["tools"] = [_tool(tool, i) for i, tool in enumerate(tools)]
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and tools and (choice or {}).get("type") != "none":
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        out["tool_choice"] = choice


def _tool(tool: dict[str, Any], index: int) -> dict[str, Any]:
    function = function_of(tool, index)
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    translated = {"name": function.get("name"), "input_schema": schema}
    if function.get("description"):
        translated["description"] = function["description"]
    if function.get("strict") is not None:
        translated["strict"] = bool(function["strict"])
    return translated


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    simple = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
    if isinstance(choice, str) and choice in simple:
        return simple[choice]
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    raise Unsupported("tool_choice", "only auto, required, none or one function can be translated")


def _output(body: dict[str, Any], out: dict[str, Any]) -> None:
    config: dict[str, Any] = {}
    response_format = body.get("response_format") or {}
    kind = response_format.get("type", "text")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        config["format"] = {"type": "json_schema", "schema": schema}
    elif kind != "text":
        raise Unsupported("response_format", f"{kind!r} has no equivalent; ask for a json_schema")
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise Unsupported("reasoning_effort", f"{effort!r} has no equivalent (low, medium, high or xhigh)")
        config["effort"] = effort
    if config:
        out["output_config"] = config


def _messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System prompts (all of them, in order) and the turns; consecutive turns of a role become one."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = check_message(message, i)
        if role in ("system", "developer"):
            system += content_parts(message.get("content"), f"messages.{i}", _text, _no_image)
            continue
        turn_role, blocks = _turn(message, role, f"messages.{i}")
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    return system, turns


def _turn(message: dict[str, Any], role: str, field: str) -> tuple[str, list[dict[str, Any]]]:
    if role == "user":
        return "user", content_parts(message.get("content"), field, _text, _image)
    if role == "tool":
        content = text_of(message.get("content"), field)
        return "user", [{"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": content}]
    blocks: list[dict[str, Any]] = []
    if text := text_of(message.get("content"), field) + (message.get("refusal") or ""):
        blocks.append({"type": "text", "text": text})
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        arguments = function_arguments(function.get("arguments"), f"{field}.tool_calls.{j}")
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments})
    return "assistant", blocks


def _text(part: dict[str, Any], field: str) -> dict[str, Any]:
    refuse_other_keys(part, TEXT_KEYS | {"prompt_cache_breakpoint"}, field)
    return _cached({"type": "text", "text": part.get("text") or ""}, part, field)


def _image(part: dict[str, Any], field: str) -> dict[str, Any]:
    refuse_other_keys(part, IMAGE_KEYS | {"prompt_cache_breakpoint"}, field)
    url = image_url(part, field)
    inline = data_url(url, field)
    if inline is None:
        source: dict[str, Any] = {"type": "url", "url": url}
    else:
        source = {"type": "base64", "media_type": inline[0], "data": inline[1]}
    return _cached({"type": "image", "source": source}, part, field)


def _no_image(part: dict[str, Any], field: str) -> dict[str, Any]:
    raise Unsupported(field, "a system prompt holds text only")


def _cached(block: dict[str, Any], part: dict[str, Any], field: str) -> dict[str, Any]:
    """OpenAI's ``prompt_cache_breakpoint`` on a part as Anthropic's ``cache_control`` on its block; OpenAI's
    ``ttl`` is a minimum lifetime, so 30 minutes asks for Anthropic's 1 hour and 12 hours cannot be had."""
    breakpoint = part.get("prompt_cache_breakpoint")
    if not breakpoint:
        return block
    ttl = breakpoint.get("ttl")
    if ttl not in CACHE_TTLS:
        raise Unsupported(f"{field}.prompt_cache_breakpoint.ttl", "Anthropic keeps a cache entry 1 hour at most")
    control = {"type": "ephemeral", **({"ttl": CACHE_TTLS[ttl]} if CACHE_TTLS[ttl] else {})}
    return {**block, "cache_control": control}


def from_anthropic(data: dict[str, Any], model: str) -> dict[str, Any]:
    """A Messages API ``Message`` as OpenAI's ``chat.completion``."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": finish_reason(data.get("stop_reason")), "logprobs": None}
    return completion(str(data.get("id") or ""), model, [choice], usage_of(data.get("usage") or {}))


def _error_message(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "no details"
    return f"{error.get('type') or 'error'}: {error.get('message') or 'no details'}"


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))
