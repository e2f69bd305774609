"""Server-sent events in OpenAI's framing, and the JSON bodies of answers and chunks.

Every event is one ``data: <json>\\n\\n`` line, and the stream ends with ``data: [DONE]\\n\\n``. The JSON is
serialised with ``ensure_ascii``: newlines, carriage returns and every non-ASCII character inside content are
escaped, so no model output (``"\\n\\ndata: [DONE]"``, U+2028, a lone ``\\r``) can end an event early or forge one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from llmops_inference.domain import Usage

__all__ = ["DONE", "Shape", "chunk", "completion_body", "relayed_chunk", "role_chunk", "sse", "usage_chunk"]

DONE = b"data: [DONE]\n\n"
Shape = Literal["chat", "completion"]
OBJECTS = {"chat": ("chat.completion", "chat.completion.chunk"), "completion": ("text_completion", "text_completion")}


def sse(payload: dict[str, Any]) -> bytes:
    """One event; the JSON is a single ASCII line whatever the payload holds."""
    return b"data: " + json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n\n"


def _choice(
    shape: Shape, text: str | None, finish_reason: str | None, *, delta: bool, role: bool = False
) -> dict[str, Any]:
    if shape == "completion":
        return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
    if delta:
        content: dict[str, Any] = {"role": "assistant"} if role else {}
        if text is not None:
            content["content"] = text
        return {"index": 0, "delta": content, "logprobs": None, "finish_reason": finish_reason}
    message = {"role": "assistant", "content": text, "refusal": None}
    return {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}


def completion_body(
    shape: Shape,
    call_id: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str | None,
    usage: Usage | None,
    *,
    choices: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole (non-streamed) answer: the upstream's ``choices`` (and other top-level fields) relayed when it
    gave them, else the one choice of ``text``; the id, model and usage are the gateway's."""
    body = {
        "id": call_id,
        "object": OBJECTS[shape][0],
        "created": created,
        "model": model,
        "choices": choices if choices is not None else [_choice(shape, text, finish_reason or "stop", delta=False)],
        "usage": (usage or Usage(0, 0)).as_dict(),
        "system_fingerprint": None,
    }
    return {**body, **extra} if extra else body


def chunk(
    shape: Shape,
    call_id: str,
    created: int,
    model: str,
    *,
    text: str | None,
    finish_reason: str | None = None,
    role: bool = False,
    include_usage: bool = False,
) -> dict[str, Any]:
    """A streamed piece; with ``include_usage`` every piece carries ``"usage": null`` as OpenAI's do."""
    body: dict[str, Any] = {
        "id": call_id,
        "object": OBJECTS[shape][1],
        "created": created,
        "model": model,
        "choices": [_choice(shape, text, finish_reason, delta=True, role=role)],
        "system_fingerprint": None,
    }
    if include_usage:
        body["usage"] = None
    return body


def role_chunk(
    shape: Shape, call_id: str, created: int, model: str, *, choices: int, include_usage: bool
) -> dict[str, Any]:
    """The first piece of a chat stream: the assistant role, once for each of the ``choices``."""
    body = chunk(shape, call_id, created, model, text="", role=True, include_usage=include_usage)
    if choices > 1:
        first = body["choices"][0]
        body["choices"] = [{**first, "index": index} for index in range(choices)]
    return body


def relayed_chunk(
    shape: Shape, call_id: str, created: int, model: str, choices: list[dict[str, Any]], *, include_usage: bool
) -> dict[str, Any]:
    """A streamed piece whose ``choices`` the upstream gave (tool call pieces, logprobs, several choices)."""
    body: dict[str, Any] = {
        "id": call_id,
        "object": OBJECTS[shape][1],
        "created": created,
        "model": model,
        "choices": choices,
        "system_fingerprint": None,
    }
    if include_usage:
        body["usage"] = None
    return body


def usage_chunk(shape: Shape, call_id: str, created: int, model: str, usage: Usage) -> dict[str, Any]:
    """The last piece when ``stream_options.include_usage``: no choices, the call's usage."""
    return {
        "id": call_id,
        "object": OBJECTS[shape][1],
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage.as_dict(),
        "system_fingerprint": None,
    }
