"""Tool use, images and ``top_k`` on ``POST /v1/messages`` through the official ``anthropic`` SDK, in process:
an OpenAI-format backend that answers tool calls, and the real Triton backend (over a client it never reaches)
refusing what its ``llm`` cannot do.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import pytest
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.adapters.triton import TritonBackend
from llmops_inference.domain import Delta, Generation, GenerationRequest, Usage
from llmops_inference.routing_table import Target, Upstream

from tests.unit.inference.support import KEYS, ROUTES, Harness

KEY = KEYS["writer"][0]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ARGUMENTS = ('{"ci', 'ty": "Pa', 'ris"}')
USAGE = Usage(20, 6, details={"prompt_tokens_details": {"cached_tokens": 8}})


@dataclass
class ToolCallingBackend(FakeBackend):
    """Answers a request that offers tools with a call of the first one (in pieces when streamed), others with
    text, as an OpenAI-compatible upstream relayed by the gateway does."""

    def _call(self, request: GenerationRequest) -> str | None:
        tools = request.params.extra.get("tools")
        last = request.messages[-1] if request.messages else {}
        return tools[0]["function"]["name"] if tools and last.get("role") != "tool" else None

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        name = self._call(request)
        if name is None:
            return await super().generate(request, target)
        self.requests.append((request, target))
        call = {"id": "call-1", "type": "function", "function": {"name": name, "arguments": "".join(ARGUMENTS)}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls", "logprobs": None}
        return Generation(text="", finish_reason="tool_calls", usage=USAGE, choices=[choice])

    async def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        name = self._call(request)
        if name is None:
            async for delta in super().stream(request, target):
                yield delta
            return
        self.requests.append((request, target))
        first = {"index": 0, "id": "call-1", "type": "function", "function": {"name": name, "arguments": ""}}
        yield Delta(choices=[{"index": 0, "delta": {"tool_calls": [first]}}])
        for piece in ARGUMENTS:
            yield Delta(
                choices=[{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}}]
            )
        yield Delta(finish_reason="tool_calls", choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
        yield Delta(usage=USAGE)


class UnreachedTriton:
    """A ``tritonclient`` stand-in: the backend must refuse before it infers anything."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def infer(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the Triton backend sent a request it should have refused")

    async def is_server_ready(self, client_timeout: float | None = None) -> bool:
        return True

    async def close(self) -> None:
        return None


@pytest.fixture
async def tools_gw(make_harness: Callable[..., Any]) -> AsyncIterator[Harness]:
    backends = {
        "primary": ToolCallingBackend(name="primary"),
        "secondary": FakeBackend(name="secondary"),
        "triton": TritonBackend(
            Upstream(name="triton", base_url="grpc://triton.internal:8001"), client_factory=UnreachedTriton
        ),
    }
    async with make_harness(routes=ROUTES, backends=backends) as harness:
        yield harness


def sdk(gw: Harness) -> anthropic.AsyncAnthropic:
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gw.app), base_url="http://gateway")
    return anthropic.AsyncAnthropic(api_key=KEY, base_url="http://gateway", http_client=client, max_retries=0)


def sent(gw: Harness) -> GenerationRequest:
    request = gw.backends["primary"].requests[-1][0]
    assert isinstance(request, GenerationRequest)
    return request


ASK = [{"role": "user", "content": "Weather in Paris?"}]


async def test_a_tool_use_round_trip(tools_gw: Harness) -> None:
    client = sdk(tools_gw)
    first = await client.messages.create(
        model="gpt-test",
        max_tokens=64,
        messages=ASK,
        tools=[WEATHER],
        tool_choice={"type": "any"},  # type: ignore[list-item]
    )
    assert first.stop_reason == "tool_use"
    (use,) = first.content
    assert use.type == "tool_use" and (use.id, use.name, use.input) == ("call-1", "get_weather", {"city": "Paris"})
    assert (first.usage.input_tokens, first.usage.cache_read_input_tokens, first.usage.output_tokens) == (12, 8, 6)
    extra = sent(tools_gw).params.extra
    assert extra["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["input_schema"],
                "description": "The weather in a city",
            },
        }
    ]
    assert extra["tool_choice"] == "required"

    result = {"type": "tool_result", "tool_use_id": use.id, "content": "18C and sunny"}
    history = [*ASK, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    second = await client.messages.create(model="gpt-test", max_tokens=64, messages=history, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    assert sent(tools_gw).messages[1:] == (
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call-1", "content": "18C and sunny"},
    )
    called, answered = await tools_gw.events()
    assert called.call_id == first.id and called.choices[0].tool_calls[0].function.name == "get_weather"
    assert called.usage.cached_prompt_tokens == 8
    assert [m.role for m in answered.messages] == ["user", "assistant", "tool"]
    assert answered.messages[1].tool_calls[0].id == "call-1" and answered.messages[2].tool_call_id == "call-1"


async def test_a_streamed_tool_use_is_reassembled_by_the_sdk(tools_gw: Harness) -> None:
    async with sdk(tools_gw).messages.stream(
        model="gpt-test",
        max_tokens=64,
        messages=ASK,
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        partial = [event.partial_json async for event in stream if event.type == "input_json"]
        final = await stream.get_final_message()
    assert "".join(partial) == "".join(ARGUMENTS) and len(partial) == len(ARGUMENTS)
    assert final.stop_reason == "tool_use"
    (use,) = final.content
    assert use.type == "tool_use" and (use.id, use.name, use.input) == ("call-1", "get_weather", {"city": "Paris"})
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (12, 6, 8)
    (event,) = await tools_gw.events()
    assert event.call_id == final.id and event.choices[0].tool_calls[0].function.arguments == "".join(ARGUMENTS)


async def test_images_become_image_url_parts(tools_gw: Harness) -> None:
    data = base64.b64encode(b"\x89PNG fake image bytes").decode()
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]
    await sdk(tools_gw).messages.create(model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]
    assert sent(tools_gw).messages[0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    (event,) = await tools_gw.events()
    image = event.messages[0].content[1]
    assert (image.type, image.media_type, image.size_bytes) == ("image", "image/png", len(b"\x89PNG fake image bytes"))


async def test_top_k_reaches_an_openai_compatible_upstream(tools_gw: Harness) -> None:
    await sdk(tools_gw).messages.create(model="gpt-test", max_tokens=8, messages=ASK, extra_body={"top_k": 5})
    assert sent(tools_gw).params.extra["top_k"] == 5


@pytest.mark.parametrize(
    ("extra", "named"),
    [({"top_k": 5}, "'top_k'"), ({"tools": [WEATHER]}, "'tools'")],
)
async def test_a_backend_that_cannot_do_a_feature_refuses_it_by_name(
    tools_gw: Harness, extra: dict[str, Any], named: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await sdk(tools_gw).messages.create(model="triton-only", max_tokens=8, messages=ASK, extra_body=extra)
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert named in message and "Triton" in message
