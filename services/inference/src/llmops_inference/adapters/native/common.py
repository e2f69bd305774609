"""What the native dialects share: refusing what a provider cannot do, reading OpenAI's content parts, and
building OpenAI's answer, chunk, usage and error shapes from a provider's values.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = [
    "DATA_URL_PREFIX",
    "GATEWAY_FIELDS",
    "IMAGE_KEYS",
    "MESSAGE_KEYS",
    "NEUTRAL_RULES",
    "TEXT_KEYS",
    "FieldRule",
    "Unsupported",
    "check_message",
    "chunk",
    "completion",
    "content_parts",
    "data_url",
    "error_body",
    "function_arguments",
    "function_of",
    "image_url",
    "is_unset",
    "openai_usage",
    "refuse_other_keys",
    "refuse_unknown_fields",
    "stop_list",
    "text_of",
    "unsupported_endpoint",
    "usage_chunk",
]

DATA_URL_PREFIX = "data:"
T = TypeVar("T")
FieldRule = Callable[[Any], bool]
"""Whether a field's value asks for nothing the provider cannot do (then it is accepted)."""
GATEWAY_FIELDS = frozenset({"metadata", "user"})
"""Fields the gateway honours itself whatever the backend (it records them), so no provider refuses them."""
NEUTRAL_RULES: dict[str, FieldRule] = {
    "n": lambda v: v in (None, 1),
    "presence_penalty": lambda v: not v,
    "frequency_penalty": lambda v: not v,
    "top_logprobs": lambda v: not v,
    "service_tier": lambda v: v in (None, "auto"),
    "modalities": lambda v: v in (None, ["text"]),
    "response_format": lambda v: v in (None, {"type": "text"}),
}
"""Values of fields that ask for nothing beyond plain generation (any other field: None, False, empty)."""


class Unsupported(Exception):
    """The request asks for something the provider cannot do: answered 400 naming ``field`` and the model."""

    def __init__(self, field: str, reason: str = "", *, subject: str | None = None) -> None:
        super().__init__(field)
        self.field = field
        self.reason = reason
        self.subject = subject or f"'{field}'"
        """What is not supported, when it is not the field itself (an endpoint: the field is then ``model``)."""

    def message(self, model: str, api: str) -> str:
        detail = f": {self.reason}" if self.reason else ""
        return f"{self.subject} is not supported by model '{model}' ({api}){detail}"


def unsupported_endpoint(endpoint: str, reason: str) -> Unsupported:
    """An OpenAI endpoint the provider has no counterpart of: named on ``model``, as OpenAI does."""
    return Unsupported("model", reason, subject=f"the /v1/{endpoint} endpoint")


def is_unset(value: Any) -> bool:
    """None, False, an empty list or dict: the field asks for nothing."""
    return value is None or value is False or value == [] or value == {}


def refuse_unknown_fields(body: Mapping[str, Any], handled: frozenset[str]) -> None:
    """Raise :class:`Unsupported` for the first field that is neither translated (``handled``), nor the gateway's
    own, nor a no-op value: a field the gateway forwards but the provider lacks is never dropped.
    """
    for name, value in body.items():
        if name in handled or name in GATEWAY_FIELDS:
            continue
        rule = NEUTRAL_RULES.get(name, is_unset)
        if not rule(value):
            raise Unsupported(name)


def stop_list(value: Any) -> list[str]:
    """OpenAI's ``stop`` (one string or a list) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


MESSAGE_KEYS = {
    "system": frozenset({"role", "content"}),
    "developer": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "refusal"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
"""The keys of each message the dialects translate; any other that asks for something (``name``, ``audio``,
``function_call``) is refused naming it."""
TEXT_KEYS = frozenset({"type", "text"})
TOOL_KEYS = frozenset({"type", "function"})
FUNCTION_KEYS = frozenset({"name", "description", "parameters", "strict"})
IMAGE_KEYS = frozenset({"type", "image_url"})


def refuse_other_keys(item: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    """Raise :class:`Unsupported` for a key of ``item`` outside ``allowed`` whose value asks for something."""
    for key, value in item.items():
        if key not in allowed and not is_unset(value):
            raise Unsupported(f"{field}.{key}")


def function_of(tool: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A function tool's definition (``tools.<index>.function``), once its keys are known ones."""
    if tool.get("type") != "function":
        raise Unsupported(f"tools.{index}.type", f"only function tools can be translated, not {tool.get('type')!r}")
    refuse_other_keys(tool, TOOL_KEYS, f"tools.{index}")
    function: dict[str, Any] = tool.get("function") or {}
    refuse_other_keys(function, FUNCTION_KEYS, f"tools.{index}.function")
    return function


def check_message(message: Mapping[str, Any], index: int) -> str:
    """The message's role, once its keys are known ones (else :class:`Unsupported` naming the key)."""
    role = str(message.get("role"))
    if role not in MESSAGE_KEYS:
        raise Unsupported(f"messages.{index}.role", f"{role!r} messages cannot be translated")
    refuse_other_keys(message, MESSAGE_KEYS[role], f"messages.{index}")
    return role


def text_of(content: Any, field: str) -> str:
    """A message's content that may only hold text (tool results, an assistant's text), parts joined."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for position, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if kind not in ("text", "refusal"):
            raise Unsupported(f"{field}.content.{position}", f"only text parts are possible here, not {kind!r}")
        refuse_other_keys(part, TEXT_KEYS | {"refusal"}, f"{field}.content.{position}")
        texts.append(str(part.get("text") or part.get("refusal") or ""))
    return "".join(texts)


def content_parts(
    content: Any, field: str, text: Callable[[dict[str, Any], str], T], image: Callable[[dict[str, Any], str], T]
) -> list[T]:
    """A message's content as the provider's parts: ``text(part, field)`` per text part (a string content is one),
    ``image(part, field)`` per image part; any other part (audio, files) is refused naming it.
    """
    if isinstance(content, str) or content is None:
        return [text({"type": "text", "text": content or ""}, f"{field}.content")]
    parts = []
    for position, part in enumerate(content):
        kind = part.get("type")
        where = f"{field}.content.{position}"
        if kind == "text":
            parts.append(text(part, where))
        elif kind == "image_url":
            parts.append(image(part, where))
        else:
            raise Unsupported(where, f"{kind!r} parts cannot be translated")
    return parts


def image_url(part: dict[str, Any], field: str) -> str:
    """An image part's URL; ``detail`` other than ``auto`` has no equivalent in the native APIs."""
    image = part.get("image_url") or {}
    if image.get("detail") not in (None, "auto"):
        raise Unsupported(f"{field}.image_url.detail", "the provider chooses the resolution itself")
    refuse_other_keys(image, frozenset({"url", "detail"}), f"{field}.image_url")
    return str(image.get("url") or "")


def data_url(url: str, field: str) -> tuple[str, str] | None:
    """``(media_type, base64 data)`` of a ``data:<type>;base64,<data>`` URL; None for any other URL."""
    if not url.startswith(DATA_URL_PREFIX):
        return None
    header, sep, data = url[len(DATA_URL_PREFIX) :].partition(",")
    media_type, _, encoding = header.partition(";")
    if not sep or encoding != "base64" or not media_type:
        raise Unsupported(field, "an inline image must be a data:<media type>;base64,<data> URL")
    try:
        base64.b64decode(data[:4096], validate=True)  # a prefix: proves the encoding without decoding it all
    except (binascii.Error, ValueError):
        raise Unsupported(field, "the image data is not valid base64") from None
    return media_type, data


def function_arguments(arguments: Any, field: str) -> dict[str, Any]:
    """An assistant tool call's ``arguments`` (a JSON object as a string) as a dict."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except (TypeError, ValueError):
        raise Unsupported(field, "the arguments must be a JSON object") from None
    if not isinstance(value, dict):
        raise Unsupported(field, "the arguments must be a JSON object")
    return value


def openai_usage(
    prompt: int, completion: int, *, cached: int = 0, cache_writes: int | None = None, reasoning: int = 0
) -> dict[str, Any]:
    """OpenAI's ``usage``: ``prompt_tokens`` counts every input token (cached ones and cache writes included) and
    ``completion_tokens`` every output token (reasoning included), as OpenAI counts them; the details say how many
    of those were read from a cache, written to one (``cache_write_tokens``: OpenAI has no name for Anthropic's
    cache writes; the call event records them under this one) and spent reasoning.
    """
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if cache_writes is not None:
        usage["prompt_tokens_details"]["cache_write_tokens"] = cache_writes
    usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def completion(
    answer_id: str, model: str, choices: list[dict[str, Any]], usage: dict[str, Any] | None
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` body."""
    body: dict[str, Any] = {
        "id": answer_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def chunk(
    answer_id: str,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    index: int = 0,
    logprobs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An OpenAI ``chat.completion.chunk`` with one choice."""
    choice = {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": logprobs}
    return {
        "id": answer_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


def usage_chunk(answer_id: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    """The last chunk of a stream asked with ``include_usage``: no choices, the call's usage."""
    return {
        "id": answer_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": usage,
    }


def error_body(message: str, kind: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
