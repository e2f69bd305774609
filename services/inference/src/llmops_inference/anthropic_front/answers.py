"""The gateway's OpenAI-format answer as an Anthropic ``Message``: content blocks, stop reason and usage.

* ``message.content`` -> a ``text`` block (a ``refusal`` too, with ``stop_reason: refusal``); ``tool_calls``
  -> ``tool_use`` blocks, their JSON ``arguments`` parsed into ``input``;
* ``finish_reason`` ``stop`` -> ``end_turn``, or ``stop_sequence`` when the upstream says which of the
  request's stop sequences matched (vLLM's ``stop_reason``; OpenAI's format has no field for it);
  ``length`` -> ``max_tokens``; ``tool_calls`` / ``function_call`` -> ``tool_use``; ``content_filter`` ->
  ``refusal``;
* usage: Anthropic's ``input_tokens`` leaves out cache reads and writes, which OpenAI's ``prompt_tokens``
  counts: ``cache_read_input_tokens`` is ``prompt_tokens_details.cached_tokens`` and
  ``cache_creation_input_tokens`` its ``cache_write_tokens`` (what the native upstreams report), each null
  when the backend did not say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llmops_inference.errors import GatewayError

__all__ = ["message_body", "stop_reason", "tool_input", "usage_of"]

STOP_REASONS = {
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def message_body(answer: dict[str, Any], stops: Sequence[str]) -> dict[str, Any]:
    """The ``Message`` of a chat completion body (its first choice)."""
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    reason, sequence = stop_reason(choice.get("finish_reason"), choice.get("stop_reason"), stops)
    content: list[dict[str, Any]] = []
    calls = message.get("tool_calls") or []
    text = message.get("content")
    if message.get("refusal"):
        content.append({"type": "text", "text": message["refusal"]})
        reason = "refusal"
    elif text or (text is not None and not calls):
        content.append({"type": "text", "text": text})
    content.extend(_tool_use(call) for call in calls)
    return {
        "id": answer["id"],
        "type": "message",
        "role": "assistant",
        "model": answer.get("model"),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage_of(answer.get("usage")),
    }


def stop_reason(finish_reason: Any, matched: Any, stops: Sequence[str]) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for an OpenAI ``finish_reason``."""
    if finish_reason == "stop" and isinstance(matched, str) and matched in stops:
        return "stop_sequence", matched
    return STOP_REASONS.get(str(finish_reason), "end_turn"), None


def usage_of(usage: Any) -> dict[str, Any]:
    """Anthropic's ``usage`` from OpenAI's (zeros when the backend reported none)."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached, written = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    prompt = _count(usage.get("prompt_tokens")) or 0
    return {
        "input_tokens": max(0, prompt - (cached or 0) - (written or 0)),
        "output_tokens": _count(usage.get("completion_tokens")) or 0,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def tool_input(arguments: Any, name: str) -> dict[str, Any]:
    """A tool call's ``arguments`` (a JSON string) as the ``input`` object Anthropic's format requires."""
    try:
        parsed = json.loads(arguments or "{}")
    except (TypeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        raise GatewayError(
            502,
            f"the model called tool {name!r} with arguments that are not a JSON object",
            type="server_error",
            code="bad_gateway",
        )
    return parsed


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    name = str(function.get("name") or "")
    return {
        "type": "tool_use",
        "id": call.get("id"),
        "name": name,
        "input": tool_input(function.get("arguments"), name),
    }


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
