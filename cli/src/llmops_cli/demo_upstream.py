"""``llmops-demo-upstream``: a scripted OpenAI-compatible model, so that `llmops up` shows tool calling offline.

The model server's Triton ``llm`` cannot call tools, and the demo must run without a network or a provider
key, so `llmops up` starts this small upstream beside the platform and routes the gateway's ``demo-tools``
model to it. Its answers are deterministic, like a weather agent's:

* offered tools and asked something, it calls the first tool (or the one ``tool_choice`` forces), filling each
  required string parameter with the last word of the user's message ("... in Lisbon?" -> ``"Lisbon"``);
* given a tool's result (the last message is a ``tool`` message), it answers in text with that result;
* otherwise it answers that it needs a tool.

It speaks Chat Completions, streamed (one chunk with the whole delta, usage when asked) or not. It is a demo
component of `llmops up` only: compose and Helm deploy real upstreams instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from llmops_kit.http.app import Runtime, create_service_app, serve
from llmops_kit.logging import configure_logging
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEMO_UPSTREAM_MODEL", "ChatRequest", "create_app", "main"]

DEMO_UPSTREAM_MODEL = "weather-agent"
"""The model name this upstream answers to (the gateway's ``demo-tools`` routes here)."""
MAX_BODY_BYTES = 1_048_576
_WORD = re.compile(r"[\w'-]+")


class FunctionSpec(BaseModel):
    """A function tool as the request offers it (only what the script reads)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=256)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Tool(BaseModel):
    """One offered tool."""

    model_config = ConfigDict(extra="allow")

    type: Literal["function"] = "function"
    function: FunctionSpec


class ChatRequest(BaseModel):
    """The part of a Chat Completions request the script reads; every other field is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=1024)
    tools: list[Tool] | None = Field(default=None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _chosen_tool(request: ChatRequest) -> FunctionSpec | None:
    if not request.tools or request.tool_choice == "none":
        return None
    forced = request.tool_choice.get("function", {}).get("name") if isinstance(request.tool_choice, dict) else None
    named = [t.function for t in request.tools if t.function.name == forced]
    return named[0] if named else request.tools[0].function


def _arguments(function: FunctionSpec, question: str) -> str:
    """Every required string parameter gets the question's last word; the rest are left out."""
    words = _WORD.findall(question)
    value = words[-1] if words else ""
    properties = function.parameters.get("properties", {})
    required = [n for n in function.parameters.get("required", []) if properties.get(n, {}).get("type") == "string"]
    return json.dumps(dict.fromkeys(required, value))


def answer(request: ChatRequest) -> dict[str, Any]:
    """The assistant message and finish reason the script gives ``request`` (see the module docstring)."""
    last = request.messages[-1]
    if last.get("role") == "tool":
        return {"message": {"role": "assistant", "content": f"The tool says: {_text(last)}"}, "finish": "stop"}
    tool = _chosen_tool(request)
    if tool is None:
        text = "I answer weather questions with a tool; offer me one."
        return {"message": {"role": "assistant", "content": text}, "finish": "stop"}
    question = next((_text(m) for m in reversed(request.messages) if m.get("role") == "user"), "")
    call_id = "call_" + hashlib.sha256(f"{tool.name}:{question}".encode()).hexdigest()[:16]
    call = {"id": call_id, "type": "function", "function": {"name": tool.name, "arguments": _arguments(tool, question)}}
    return {"message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish": "tool_calls"}


def _usage(request: ChatRequest, message: dict[str, Any]) -> dict[str, int]:
    prompt = sum(len(_WORD.findall(_text(m))) for m in request.messages)
    completion = len(_WORD.findall(json.dumps(message)))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunks(request: ChatRequest, reply: dict[str, Any], base: dict[str, Any]) -> AsyncIterator[bytes]:
    message = reply["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if "tool_calls" in message:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
    events = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reply["finish"]}]},
    ]
    if (request.stream_options or {}).get("include_usage"):
        events.append({**base, "choices": [], "usage": _usage(request, message)})

    async def stream() -> AsyncIterator[bytes]:
        for event in events:
            yield f"data: {json.dumps(event)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return stream()


def create_app() -> FastAPI:
    """The upstream's app: ``POST /v1/chat/completions`` and ``GET /v1/models``, plus the kit's probes."""

    async def runtime(_: FastAPI) -> Runtime:
        return Runtime()

    app = create_service_app(
        service="demo-upstream",
        title="llmops demo upstream",
        description=__doc__ or "",
        version="1",
        build_runtime=runtime,
        max_body_bytes=MAX_BODY_BYTES,
    )

    @app.get("/v1/models", summary="The one model this upstream serves")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": DEMO_UPSTREAM_MODEL, "object": "model", "owned_by": "llmops"}]}

    @app.post("/v1/chat/completions", summary="A scripted chat completion (the module docstring)", response_model=None)
    async def chat(request: ChatRequest) -> dict[str, Any] | StreamingResponse:
        reply = answer(request)
        base = {"id": f"chatcmpl-{time.time_ns()}", "created": int(time.time()), "model": request.model}
        if request.stream:
            chunks = _chunks(request, reply, {**base, "object": "chat.completion.chunk"})
            return StreamingResponse(chunks, media_type="text/event-stream")
        choice = {"index": 0, "message": reply["message"], "finish_reason": reply["finish"], "logprobs": None}
        usage = _usage(request, reply["message"])
        return {**base, "object": "chat.completion", "choices": [choice], "usage": usage}

    return app


def main() -> None:
    """Serve on ``DEMO_UPSTREAM_HOST``:``DEMO_UPSTREAM_PORT`` (127.0.0.1:8004) until SIGTERM/SIGINT."""
    configure_logging("demo-upstream", os.environ.get("LOG_LEVEL", "INFO"))
    host = os.environ.get("DEMO_UPSTREAM_HOST", "127.0.0.1")
    serve(create_app(), host, int(os.environ.get("DEMO_UPSTREAM_PORT", "8004")))


if __name__ == "__main__":
    main()
