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
    "NEUTRAL_RULES",
    "FieldRule",
    "Unsupported",
    "chunk",
    "completion",
    "data_url",
    "error_body",
    "function_arguments",
    "is_unset",
    "openai_usage",
    "refuse_unknown_fields",
    "stop_list",
    "text_of",
    "usage_chunk",
    "user_parts",
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

    def __init__(self, field: str, reason: str = "") -> None:
        super().__init__(field)
        self.field = field
        self.reason = reason

    def message(self, model: str, api: str) -> str:
        detail = f": {self.reason}" if self.reason else ""
        return f"'{self.field}' is not supported by model '{model}' ({api}){detail}"


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


def text_of(content: Any, field: str) -> str:
    """A message's content that may only hold text (system prompts, tool results), parts joined."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise Unsupported(f"{field}.content", f"only text parts are possible here, not {kind!r}")
        texts.append(str(part.get("text") or ""))
    return "".join(texts)


def user_parts(content: Any, index: int, text: Callable[[str], T], image: Callable[[str, str], T]) -> list[T]:
    """A user message's content as the provider's parts: ``text(text)`` per text part, ``image(url, field)`` per
    image part; any other part (audio, files) is refused naming it.
    """
    if isinstance(content, str) or content is None:
        return [text(content or "")]
    parts = []
    for position, part in enumerate(content):
        kind = part.get("type")
        field = f"messages.{index}.content.{position}"
        if kind == "text":
            parts.append(text(part.get("text") or ""))
        elif kind == "image_url":
            parts.append(image((part.get("image_url") or {}).get("url") or "", field))
        else:
            raise Unsupported(field, f"{kind!r} parts cannot be translated")
    return parts


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
    answer_id: str, model: str, delta: dict[str, Any], finish_reason: str | None = None, index: int = 0
) -> dict[str, Any]:
    """An OpenAI ``chat.completion.chunk`` with one choice."""
    choice = {"index": index, "delta": delta, "finish_reason": finish_reason}
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
