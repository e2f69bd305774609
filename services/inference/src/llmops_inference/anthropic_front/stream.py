"""The gateway's OpenAI-format stream as Anthropic's server-sent events.

Anthropic's sequence: ``message_start``, a ``ping``, then per content block ``content_block_start``,
``content_block_delta`` (``text_delta``, or ``input_json_delta`` pieces of a tool call's input) and
``content_block_stop``, then ``message_delta`` (stop reason, usage) and ``message_stop``. Each event is
``event: <type>\\ndata: <json>\\n\\n``; the JSON is ASCII-escaped as on the OpenAI front, so no model output can
end an event early. A failure the gateway reports mid-stream (its ``{"error": ...}`` chunk) becomes an
``error`` event, and the stream ends there, as Anthropic's does.

The chunks come from :meth:`CallRunner.stream` in the same process, one whole ``data:`` event per item, so
the call is limited, recorded and closed exactly as a ``/v1/chat/completions`` stream is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmops_inference.anthropic_front.answers import stop_reason, usage_of
from llmops_inference.anthropic_front.errors import stream_error
from llmops_inference.streaming import sse

__all__ = ["anthropic_events"]

DATA = b"data: "
DONE = b"[DONE]"


def event(payload: dict[str, Any]) -> bytes:
    """One Anthropic event: its ``type`` as the SSE event name."""
    return b"event: " + str(payload["type"]).encode("ascii") + b"\n" + sse(payload)


async def anthropic_events(chunks: AsyncIterator[bytes], stops: Sequence[str]) -> AsyncIterator[bytes]:
    """Translate the chat stream ``chunks`` (closing it however this stream ends: a client gone included)."""
    translator = _Translator(stops)
    try:
        async for item in chunks:
            payload = item.removeprefix(DATA).strip()
            if payload == DONE:
                break
            for out in translator.chunk(json.loads(payload)):
                yield out
            if translator.failed:
                return
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:  # the chat stream records the call when it is closed
            await close()
    for out in translator.finish():
        yield out


@dataclass
class _Translator:
    stops: Sequence[str]
    started: bool = False
    failed: bool = False
    blocks: int = 0
    open_block: int | None = None
    open_text: bool = False
    tools: dict[int, int] = field(default_factory=dict)
    """OpenAI tool call index -> Anthropic block index."""
    finish_reason: str | None = None
    matched: str | None = None
    refused: bool = False
    usage: Any = None

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        if "error" in chunk:
            self.failed = True
            return [event(stream_error(chunk["error"]))]
        out = [] if self.started else self._start(chunk)
        self.usage = chunk.get("usage") or self.usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) == 0:
                out.extend(self._choice(choice))
        return out

    def finish(self) -> list[bytes]:
        out = self._close()
        reason, sequence = stop_reason(self.finish_reason, self.matched, self.stops)
        delta = {"stop_reason": "refusal" if self.refused else reason, "stop_sequence": sequence}
        usage = {k: v for k, v in usage_of(self.usage).items() if v is not None}
        out.append(event({"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(event({"type": "message_stop"}))
        return out

    def _start(self, chunk: dict[str, Any]) -> list[bytes]:
        self.started = True
        message: dict[str, Any] = {
            "id": chunk.get("id"),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [event({"type": "message_start", "message": message}), event({"type": "ping"})]

    def _choice(self, choice: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        delta = choice.get("delta") or {}
        text = delta.get("content") or delta.get("refusal")
        if delta.get("refusal"):
            self.refused = True
        if text:
            out.extend(self._text(text))
        for call in delta.get("tool_calls") or []:
            out.extend(self._tool_call(call))
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
            self.matched = choice.get("stop_reason")
        return out

    def _text(self, text: str) -> list[bytes]:
        out = [] if self.open_text else self._open({"type": "text", "text": ""}, text=True)
        delta = {"type": "text_delta", "text": text}
        out.append(event({"type": "content_block_delta", "index": self.open_block, "delta": delta}))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        position = call.get("index", 0)
        function = call.get("function") or {}
        out: list[bytes] = []
        if position not in self.tools:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or "",
                "name": function.get("name") or "",
                "input": {},
            }
            out.extend(self._open(block, text=False))
            self.tools[position] = self.blocks - 1
        if function.get("arguments"):
            delta = {"type": "input_json_delta", "partial_json": function["arguments"]}
            out.append(event({"type": "content_block_delta", "index": self.tools[position], "delta": delta}))
        return out

    def _open(self, block: dict[str, Any], *, text: bool) -> list[bytes]:
        out = self._close()
        self.open_block, self.open_text = self.blocks, text
        self.blocks += 1
        out.append(event({"type": "content_block_start", "index": self.open_block, "content_block": block}))
        return out

    def _close(self) -> list[bytes]:
        if self.open_block is None:
            return []
        closed, self.open_block, self.open_text = self.open_block, None, False
        return [event({"type": "content_block_stop", "index": closed})]
