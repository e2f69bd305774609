"""The gateway driven by the official ``openai`` SDK, in front of a loopback OpenAI-compatible upstream.

* :class:`Loopback`: an aiohttp server on a free loopback port that keeps every body it receives and answers
  what its ``answer`` says (a whole chat completion; streamed, it is cut into chunks the way OpenAI streams:
  the role first, then text pieces, tool calls as their id and name then their arguments in two pieces, the
  finish reason, the usage), so what the gateway relays can be checked against what the SDK re-assembles;
* :func:`sdk_gateway`: the real app (over the real aiohttp transport to the loopback, and a Triton backend
  over a fake client for ``triton-llm``) with an ``AsyncOpenAI`` client bound to it in process.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import openai
from aiohttp import web
from llmops_inference.adapters.openai_upstream import OpenAIUpstream
from llmops_inference.adapters.triton import TritonBackend
from llmops_inference.config import InferenceSettings
from llmops_inference.routing_table import Upstream

from tests.unit.inference.support import KEYS, Harness

USAGE = {
    "prompt_tokens": 40,
    "completion_tokens": 12,
    "total_tokens": 52,
    "prompt_tokens_details": {"cached_tokens": 32, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 5, "accepted_prediction_tokens": 0},
}


def completion(
    content: str | None = "ok", *, tool_calls: list[dict[str, Any]] | None = None, **choice: Any
) -> dict[str, Any]:
    """A chat completion with one choice (more with ``choices=``)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    first = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop", **choice}
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [first],
        "usage": USAGE,
        "system_fingerprint": "fp_loop",
        "service_tier": "default",
    }


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chunks(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole chat completion as the chunks an OpenAI upstream streams."""
    base = {"id": answer["id"], "object": "chat.completion.chunk", "created": 1, "model": answer["model"]}
    pieces: list[dict[str, Any]] = []

    def piece(index: int, delta: dict[str, Any], **extra: Any) -> None:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None, **extra}
        pieces.append({**base, "choices": [choice]})

    for choice in answer["choices"]:
        index, message = choice["index"], choice["message"]
        piece(index, {"role": "assistant", "content": "", "refusal": None})
        text = message.get("content") or ""
        for start in range(0, len(text), 4):
            piece(index, {"content": text[start : start + 4]}, logprobs=_slice(choice["logprobs"], start // 4))
        for position, call in enumerate(message.get("tool_calls") or ()):
            head = {"index": position, "id": call["id"], "type": "function"}
            piece(index, {"tool_calls": [{**head, "function": {"name": call["function"]["name"], "arguments": ""}}]})
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                piece(index, {"tool_calls": [{"index": position, "function": {"arguments": part}}]})
        piece(index, {}, finish_reason=choice["finish_reason"])
    pieces.append({**base, "choices": [], "usage": answer["usage"]})
    return pieces


def _slice(logprobs: dict[str, Any] | None, position: int) -> dict[str, Any] | None:
    if logprobs is None:
        return None
    return {"content": logprobs["content"][position : position + 1], "refusal": None}


@dataclass
class Loopback:
    """The upstream: ``answer(body)`` decides each answer; ``bodies`` keeps what it received."""

    answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: completion()
    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        answer = copy.deepcopy(self.answer(body))
        if request.path.endswith("/completions") and "prompt" in body:
            answer = {**answer, "object": "text_completion"}
        if not body.get("stream"):
            return web.json_response(answer)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in chunks(answer) if "messages" in body else [answer]:
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    @property
    def last(self) -> dict[str, Any]:
        return self.bodies[-1]


class TextOnlyTriton:
    """A ``tritonclient`` stand-in answering every ``llm`` call with one short text."""

    def __init__(self, url: str) -> None:
        self.calls = 0

    async def infer(self, model_name: str, inputs: list[Any], outputs: Any = None, client_timeout: Any = None) -> Any:
        self.calls += 1
        values = {"text": b"plain text", "prompt_tokens": 3, "completion_tokens": 2, "finish_reason": b"stop"}
        return _Result({name: np.array([[value]], dtype=np.object_) for name, value in values.items()})

    async def is_server_ready(self, client_timeout: float | None = None) -> bool:
        return True

    async def close(self) -> None:
        return None


class _Result:
    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs

    def as_numpy(self, name: str) -> Any:
        return self.outputs[name]


@dataclass
class SdkGateway:
    harness: Harness
    upstream: Loopback
    sdk: openai.AsyncOpenAI

    async def events(self) -> list[Any]:
        return await self.harness.events()


@asynccontextmanager
async def sdk_gateway(
    make_harness: Callable[..., Any], settings: InferenceSettings | None = None
) -> AsyncIterator[SdkGateway]:
    upstream = Loopback()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", upstream.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    upstream.url = f"http://127.0.0.1:{port}"
    routes = {
        "upstreams": [{"name": "loop", "base_url": f"{upstream.url}/v1"}, {"name": "tri", "base_url": "grpc://tri:1"}],
        "models": {
            "gpt-loop": [{"backend": "openai", "upstream": "loop", "model": "up-model", "timeout_s": 10}],
            "triton-llm": [{"backend": "triton", "upstream": "tri", "model": "llm", "timeout_s": 10}],
        },
    }
    backends = {
        "loop": OpenAIUpstream(Upstream(name="loop", base_url=f"{upstream.url}/v1")),
        "tri": TritonBackend(Upstream(name="tri", base_url="grpc://tri:1"), client_factory=TextOnlyTriton),
    }
    settings = settings or InferenceSettings(replay_interval_s=0.05, requests_per_minute=0, tokens_per_minute=0)
    try:
        async with make_harness(settings, routes=routes, backends=backends) as harness:
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app))
            sdk = openai.AsyncOpenAI(
                base_url="http://gateway/v1", api_key=KEYS["writer"][0], http_client=http, max_retries=0
            )
            async with sdk:
                yield SdkGateway(harness, upstream, sdk)
    finally:
        await runner.cleanup()
