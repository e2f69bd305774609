"""Checks that what the gateway sends a provider is well-formed, by the official SDKs' own request types.

Anthropic's request types are ``TypedDict``s: pydantic validates their ``Iterable`` fields lazily (so a wrong
content block passes) and ignores unknown keys, so :func:`anthropic_problems` walks the types itself: required
keys, no unknown keys, literals, unions, lists. Gemini's are pydantic models that forbid unknown fields, so
:func:`gemini_request` validates with them directly.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any

from anthropic.types.message_create_params import MessageCreateParamsNonStreaming, MessageCreateParamsStreaming
from google.genai import types as genai
from typing_extensions import is_typeddict

__all__ = ["LEGACY_ANTHROPIC_FIELDS", "anthropic_problems", "gemini_request"]

LEGACY_ANTHROPIC_FIELDS = frozenset({"temperature", "top_p"})
"""Sampling fields the Messages API documents for the models that take them, which this SDK version no longer
types (its newest models refuse them: the upstream's 400 then names the field)."""
_LISTS = (collections.abc.Iterable, collections.abc.Sequence, list)


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    """What in ``body`` does not conform to the SDK's ``MessageCreateParams`` (empty when it does)."""
    top = {k: v for k, v in body.items() if k not in LEGACY_ANTHROPIC_FIELDS}
    return _problems(top, MessageCreateParamsNonStreaming | MessageCreateParamsStreaming, "body")


def _problems(value: Any, hint: Any, where: str) -> list[str]:
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return []
    if origin is typing.Annotated:
        return _problems(value, typing.get_args(hint)[0], where)
    if origin in (typing.Union, types.UnionType):
        options = [_problems(value, option, where) for option in typing.get_args(hint)]
        return [] if any(not found for found in options) else min(options, key=len)
    if origin is typing.Literal:
        return [] if value in typing.get_args(hint) else [f"{where}: {value!r} is not one of {typing.get_args(hint)}"]
    if is_typeddict(hint):
        return _typeddict_problems(value, hint, where)
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return [] if isinstance(value, dict) else [f"{where}: not an object"]
    if origin in _LISTS or getattr(origin, "__name__", "") == "SequenceNotStr":  # the SDK's "list, not a str"
        return _list_problems(value, hint, where)
    if hint is type(None):
        return [] if value is None else [f"{where}: not null"]
    if isinstance(hint, type):
        ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        return [] if ok or (hint is float and isinstance(value, int)) else [f"{where}: not a {hint.__name__}"]
    return [f"{where}: cannot check {hint!r}"]


def _typeddict_problems(value: Any, hint: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    hints = typing.get_type_hints(hint)
    missing = [f"{where}.{key}: missing" for key in hint.__required_keys__ if key not in value]
    unknown = [f"{where}.{key}: unknown" for key in value if key not in hints]
    nested = [p for key, item in value.items() if key in hints for p in _problems(item, hints[key], f"{where}.{key}")]
    return missing + unknown + nested


def _list_problems(value: Any, hint: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{where}: not a list"]
    (item_hint,) = typing.get_args(hint) or (Any,)
    return [p for i, item in enumerate(value) for p in _problems(item, item_hint, f"{where}[{i}]")]


def gemini_request(body: dict[str, Any]) -> None:
    """Validate a ``generateContent`` body part by part with the SDK's types (they forbid unknown fields)."""
    assert set(body) <= {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}, set(body)
    for content in body["contents"]:
        genai.Content.model_validate(content)
    if "systemInstruction" in body:
        genai.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        genai.Tool.model_validate(tool)
    if "toolConfig" in body:
        genai.ToolConfig.model_validate(body["toolConfig"])
    genai.GenerationConfig.model_validate(body["generationConfig"])
