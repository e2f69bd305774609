"""Google's Gemini API (``models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``) behind the
OpenAI front: requests, answers and errors.

What maps where (and what is refused) is the table in docs/inference.md; the reasons are in ADR 0018. Answers
and stream chunks share one translation (:mod:`llmops_inference.adapters.native.gemini_answers`): a streamed
chunk is a ``GenerateContentResponse`` too.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from llmops_inference.adapters.http_transport import HttpAnswer
from llmops_inference.adapters.native.common import (
    IMAGE_KEYS,
    TEXT_KEYS,
    Unsupported,
    check_message,
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
from llmops_inference.adapters.native.gemini_answers import GeminiStream, from_gemini
from llmops_inference.adapters.native.transport import ProviderCall
from llmops_inference.adapters.native.upstream_errors import openai_error

__all__ = ["DEFAULT_VERSION", "SKIP_THOUGHT_SIGNATURE", "GeminiDialect"]

DEFAULT_VERSION = "v1beta"
"""The API version in the path unless the upstream's ``api_version`` names another."""
SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for the thought signature of a function call replayed from history that
carries none (OpenAI's tool calls have no place for one; see ADR 0018)."""
HANDLED = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stream",
        "stream_options", "tools", "tool_choice", "parallel_tool_calls", "response_format", "seed", "n",
        "presence_penalty", "frequency_penalty", "reasoning_effort", "logprobs", "top_logprobs",
    }
)  # fmt: skip
THINKING_LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "XHIGH"}
GENERATION_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "seed": "seed",
    "n": "candidateCount",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


class GeminiDialect:
    """The Gemini API: ``x-goog-api-key`` header, ``<base_url>/<version>/models/<model>:<method>``."""

    api = "Gemini API"

    def __init__(self, version: str | None = None) -> None:
        self._version = version or DEFAULT_VERSION

    def headers(self, key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": key} if key else {}

    def call(self, base_url: str, endpoint: str, body: dict[str, Any]) -> ProviderCall:
        if endpoint != "chat/completions":
            raise unsupported_endpoint(endpoint, "only chat completions can be translated")
        model = quote(str(body["model"]), safe="")
        method = "streamGenerateContent?alt=sse" if body.get("stream") else "generateContent"
        return ProviderCall(f"{base_url}/{self._version}/models/{model}:{method}", to_gemini(body))

    def answer(self, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return from_gemini(data, str(body.get("model")))

    def stream(self, body: dict[str, Any]) -> GeminiStream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return GeminiStream(str(body.get("model")), include_usage=include_usage)

    def error(self, answer: HttpAnswer) -> HttpAnswer:
        return openai_error(answer, {}, _error_message, _retry_delay)


def to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI Chat Completions body as a ``generateContent`` body; raises :class:`Unsupported`."""
    refuse_unknown_fields(body, HANDLED)
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        raise Unsupported("parallel_tool_calls", "Gemini cannot be kept from calling several tools at once")
    system, contents = _contents(body.get("messages") or [])
    out: dict[str, Any] = {"contents": contents, "generationConfig": _generation(body)}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = body.get("tools") or []
    if tools:
        out["tools"] = [{"functionDeclarations": [_function(tool, i) for i, tool in enumerate(tools)]}]
    config = _tool_config(body.get("tool_choice"), any((t.get("function") or {}).get("strict") for t in tools))
    if config:
        out["toolConfig"] = {"functionCallingConfig": config}
    return out


def _generation(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {"maxOutputTokens": body.get("max_completion_tokens") or body.get("max_tokens")}
    config.update({name: body[field] for field, name in GENERATION_FIELDS.items() if body.get(field) is not None})
    if stops := stop_list(body.get("stop")):
        config["stopSequences"] = stops
    if body.get("logprobs"):
        config["responseLogprobs"] = True
        if body.get("top_logprobs"):
            config["logprobs"] = body["top_logprobs"]
    elif body.get("top_logprobs"):
        raise Unsupported("top_logprobs", "it needs logprobs: true")
    response_format = body.get("response_format") or {}
    kind = response_format.get("type", "text")
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    if kind == "json_schema":
        config["responseJsonSchema"] = (response_format.get("json_schema") or {}).get("schema") or {}
    elif kind not in ("text", "json_object"):
        raise Unsupported("response_format", f"{kind!r} has no equivalent")
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in THINKING_LEVELS:
            raise Unsupported("reasoning_effort", f"{effort!r} has no equivalent thinking level")
        config["thinkingConfig"] = {"thinkingLevel": THINKING_LEVELS[effort]}
    return config


def _function(tool: dict[str, Any], index: int) -> dict[str, Any]:
    function = function_of(tool, index)
    declaration: dict[str, Any] = {"name": function.get("name")}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        declaration["parametersJsonSchema"] = function["parameters"]
    return declaration


def _tool_config(choice: Any, strict: bool) -> dict[str, Any] | None:
    """OpenAI's ``tool_choice``; a strict function under ``auto`` asks for schema-validated calls."""
    if choice is None or choice == "auto":
        return {"mode": "VALIDATED"} if strict else None
    if choice in ("none", "required"):
        return {"mode": "NONE" if choice == "none" else "ANY"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"mode": "ANY", "allowedFunctionNames": [(choice.get("function") or {}).get("name")]}
    raise Unsupported("tool_choice", "only auto, required, none or one function can be translated")


def _contents(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System instruction parts (all system prompts, in order) and the turns; consecutive turns of a role become
    one. A tool result names its function, which OpenAI's tool message does not: it is the call's with that id.
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(messages):
        role = check_message(message, i)
        if role in ("system", "developer"):
            system += content_parts(message.get("content"), f"messages.{i}", _text, _no_image)
            continue
        turn_role, parts = _turn(message, role, f"messages.{i}", names)
        if contents and contents[-1]["role"] == turn_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn_role, "parts": parts})
    return system, contents


def _turn(message: dict[str, Any], role: str, field: str, names: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    if role == "user":
        return "user", content_parts(message.get("content"), field, _text, _image)
    if role == "tool":
        call_id = str(message.get("tool_call_id"))
        if call_id not in names:
            raise Unsupported(f"{field}.tool_call_id", "no earlier assistant tool call has this id")
        result = {"result": text_of(message.get("content"), field)}
        return "user", [{"functionResponse": {"id": call_id, "name": names[call_id], "response": result}}]
    parts: list[dict[str, Any]] = []
    if text := text_of(message.get("content"), field) + (message.get("refusal") or ""):
        parts.append({"text": text})
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        names[str(call.get("id"))] = str(function.get("name"))
        args = function_arguments(function.get("arguments"), f"{field}.tool_calls.{j}")
        call_part = {"id": call.get("id"), "name": function.get("name"), "args": args}
        parts.append({"functionCall": call_part, "thoughtSignature": SKIP_THOUGHT_SIGNATURE})
    return "model", parts


def _text(part: dict[str, Any], field: str) -> dict[str, Any]:
    refuse_other_keys(part, TEXT_KEYS, field)
    return {"text": part.get("text") or ""}


def _image(part: dict[str, Any], field: str) -> dict[str, Any]:
    refuse_other_keys(part, IMAGE_KEYS, field)
    url = image_url(part, field)
    inline = data_url(url, field)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    mime_type, _ = mimetypes.guess_type(url.split("?", 1)[0])
    if not mime_type or not mime_type.startswith("image/"):
        raise Unsupported(field, "the image URL does not name its type (.png, .jpg, ...): send it as a data URL")
    return {"fileData": {"fileUri": url, "mimeType": mime_type}}


def _no_image(part: dict[str, Any], field: str) -> dict[str, Any]:
    raise Unsupported(field, "a system instruction holds text only")


def _error_message(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "no details"
    return f"{error.get('status') or 'error'}: {error.get('message') or 'no details'}"


def _retry_delay(data: Any) -> float | None:
    """The ``retryDelay`` (``"30s"``) of a ``google.rpc.RetryInfo`` detail, which Gemini sends with a 429."""
    error = data.get("error") if isinstance(data, dict) else None
    for detail in (error or {}).get("details") or [] if isinstance(error, dict) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None
