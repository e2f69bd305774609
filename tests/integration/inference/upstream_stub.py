"""An OpenAI-compatible upstream stub for the gateway's integration tests.

It answers ``/v1/chat/completions`` (streamed or not), ``/v1/completions``, ``/v1/embeddings`` and
``/v1/models`` with deterministic content naming itself (a chat offering ``tools`` and holding no tool result
yet gets a call of the first tool, ``{"city": "Paris"}``, streamed as OpenAI streams it: the id and name, then
the arguments in pieces), and can be told to misbehave through
``POST /control`` (``{"status": 500}`` answers every call with that status, ``{"delay_s": 3}`` waits
before answering, ``{}`` back to normal). ``GET /control`` tells how many calls it received and the last
body and headers, so tests can check what the gateway forwarded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = ["create_stub"]


def create_stub(name: str) -> FastAPI:
    app = FastAPI(title=f"upstream stub {name}")
    state: dict[str, Any] = {"status": None, "delay_s": 0.0, "calls": 0, "last_body": None, "last_headers": {}}

    @app.post("/control")
    async def control(request: Request) -> dict[str, Any]:
        settings = await request.json()
        state["status"] = settings.get("status")
        state["delay_s"] = float(settings.get("delay_s", 0.0))
        state["calls"] = 0
        return {"ok": True}

    @app.get("/control")
    async def observed() -> dict[str, Any]:
        return {k: state[k] for k in ("calls", "last_body", "last_headers")}

    async def misbehave(request: Request) -> tuple[dict[str, Any], Response | None]:
        body = await request.json()
        state["calls"] += 1
        state["last_body"] = body
        state["last_headers"] = dict(request.headers)
        if state["delay_s"]:
            await asyncio.sleep(state["delay_s"])
        if state["status"]:
            error = {"error": {"message": f"{name} is failing on purpose", "type": "server_error"}}
            return body, JSONResponse(error, status_code=state["status"])
        return body, None

    def answer_for(body: dict[str, Any]) -> str:
        last = body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")
        return f"{name} says: you wrote {last!r}"

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body, failure = await misbehave(request)
        if failure is not None:
            return failure
        text = answer_for(body)
        usage = {"prompt_tokens": 9, "completion_tokens": len(text.split()), "total_tokens": 9 + len(text.split())}
        call = _tool_call(body)
        if body.get("stream"):
            pieces = _stream_call(call, usage, body) if call else _stream(text, usage, body)
            return StreamingResponse(pieces, media_type="text/event-stream")
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if call:
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
        return JSONResponse(
            {
                "id": "stub",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            }
        )

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body, failure = await misbehave(request)
        if failure is not None:
            return failure
        text = answer_for(body)
        choice = {"index": 0, "text": text, "finish_reason": "stop"}
        usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        return JSONResponse(
            {
                "id": "stub",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            }
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body, failure = await misbehave(request)
        if failure is not None:
            return failure
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 0.5, -1.0]} for i, t in enumerate(inputs)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "stub-model", "object": "model", "created": 0, "owned_by": name}]}

    return app


async def _stream(text: str, usage: dict[str, int], body: dict[str, Any]) -> AsyncIterator[bytes]:
    def event(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()

    base = {"id": "stub", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
    yield event(
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    )
    for word in text.split(" "):
        await asyncio.sleep(0.005)
        yield event({**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]})
    yield event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        yield event({**base, "choices": [], "usage": usage})
    yield b"data: [DONE]\n\n"


def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """A call of the first tool offered, unless the conversation already holds a tool result."""
    if not body.get("tools") or any(m.get("role") == "tool" for m in body.get("messages", [])):
        return None
    name = body["tools"][0]["function"]["name"]
    return {"id": "call_stub_1", "type": "function", "function": {"name": name, "arguments": '{"city": "Paris"}'}}


async def _stream_call(call: dict[str, Any], usage: dict[str, int], body: dict[str, Any]) -> AsyncIterator[bytes]:
    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        base = {"id": "stub", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n".encode()

    def delta(content: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": content, "finish_reason": finish}]

    head = {"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"]}}
    yield event(delta({"role": "assistant", "content": None}))
    yield event(delta({"tool_calls": [{**head, "function": {**head["function"], "arguments": ""}}]}))
    arguments = call["function"]["arguments"]
    for start in range(0, len(arguments), 5):
        await asyncio.sleep(0.005)
        yield event(delta({"tool_calls": [{"index": 0, "function": {"arguments": arguments[start : start + 5]}}]}))
    yield event(delta({}, "tool_calls"))
    yield event([], usage=usage)
    yield b"data: [DONE]\n\n"
