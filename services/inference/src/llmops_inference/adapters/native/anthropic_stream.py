"""Anthropic's streamed Messages (server-sent events) as OpenAI's ``chat.completion.chunk`` stream.

Anthropic sends ``message_start`` (the id and the input usage), then per content block ``content_block_start``,
its deltas (``text_delta``; ``input_json_delta`` for a tool call's arguments) and ``content_block_stop``, then
``message_delta`` (the stop reason and the output usage) and ``message_stop``; ``ping`` and ``error`` may come
at any time. Text and tool-call argument deltas are relayed as they come (the OpenAI SDK assembles the
arguments); thinking blocks are not part of the answer (their tokens count as reasoning tokens).
"""

from __future__ import annotations

import json
from typing import Any

from llmops_inference.adapters.native.common import chunk, error_body, openai_usage, usage_chunk

__all__ = ["AnthropicStream", "finish_reason", "usage_of"]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str | None:
    """Anthropic's ``stop_reason`` as OpenAI's ``finish_reason`` (an unknown one reads as ``stop``)."""
    return None if stop_reason is None else FINISH_REASONS.get(stop_reason, "stop")


def usage_of(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's usage as OpenAI's: Anthropic's ``input_tokens`` leaves out cache reads and writes, OpenAI's
    ``prompt_tokens`` includes them.
    """
    cached = int(usage.get("cache_read_input_tokens") or 0)
    writes = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cached + writes
    thinking = int((usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0)
    output = int(usage.get("output_tokens") or 0)
    return openai_usage(prompt, output, cached=cached, cache_writes=writes, reasoning=thinking)


class AnthropicStream:
    """One call's translation; the usage chunk (when asked for) comes after the last event."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = ""
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}
        """Anthropic's content-block index of each tool call -> OpenAI's tool-call index."""

    def feed(self, line: str) -> list[dict[str, Any]]:
        if not line.startswith("data:"):
            return []  # the "event:" lines repeat the data's type; blank lines end events
        try:
            event = json.loads(line[5:])
        except ValueError:
            return [error_body("the upstream streamed something that is not JSON", "server_error")]
        handler = getattr(self, "_on_" + str(event.get("type")), None) if isinstance(event, dict) else None
        return handler(event) if handler is not None else []

    def close(self) -> list[dict[str, Any]]:
        if not self._include_usage or not self._usage:
            return []
        return [usage_chunk(self._id, self._model, usage_of(self._usage))]

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk(self._id, self._model, delta, finish)

    def _on_message_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        message = event.get("message") or {}
        self._id = str(message.get("id") or "")
        self._usage = dict(message.get("usage") or {})
        return [self._chunk({"role": "assistant", "content": ""})]

    def _on_content_block_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        block = event.get("content_block") or {}
        if block.get("type") != "tool_use":
            return []
        index = self._tools[int(event.get("index") or 0)] = len(self._tools)
        function = {"name": block.get("name"), "arguments": ""}
        return [
            self._chunk(
                {"tool_calls": [{"index": index, "id": block.get("id"), "type": "function", "function": function}]}
            )
        ]

    def _on_content_block_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [self._chunk({"content": delta.get("text") or ""})]
        if delta.get("type") == "input_json_delta" and int(event.get("index") or 0) in self._tools:
            index = self._tools[int(event.get("index") or 0)]
            return [
                self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": delta.get("partial_json") or ""}}]}
                )
            ]
        return []  # thinking, signatures, citations: not part of OpenAI's answer

    def _on_message_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        # message_delta's usage is cumulative: its counts replace message_start's.
        self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        stop = finish_reason((event.get("delta") or {}).get("stop_reason"))
        return [self._chunk({}, stop)] if stop else []

    def _on_error(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        error = event.get("error") or {}
        message = f"{error.get('type') or 'error'}: {error.get('message') or 'no details'}"
        return [error_body(message, "server_error")]
