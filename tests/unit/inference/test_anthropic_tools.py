"""Tool use, images, stop sequences and ``top_k`` on ``POST /v1/messages`` through the official ``anthropic``
SDK, in front of the loopback OpenAI-compatible upstream (the real OpenAI adapter over HTTP, as the ``openai``
SDK tests use it) and the Triton backend refusing what its ``llm`` cannot do.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx2
import pytest
from pydantic import BaseModel

from tests.unit.inference.sdk_support import SdkGateway, completion, sdk_gateway, tool_call
from tests.unit.inference.support import KEYS

WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ARGUMENTS = '{"city": "Paris"}'
ASK: Any = [{"role": "user", "content": "Weather in Paris?"}]


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """A call of the weather tool while the conversation holds no tool result, then text."""
    if body.get("tools") and not any(m["role"] == "tool" for m in body["messages"]):
        return completion(None, tool_calls=[tool_call("call-7", "get_weather", ARGUMENTS)], finish_reason="tool_calls")
    return completion("18C and sunny in Paris.")


@pytest.fixture
async def loop(make_harness: Callable[..., Any]) -> AsyncIterator[SdkGateway]:
    async with sdk_gateway(make_harness) as gateway:
        gateway.upstream.answer = answer
        yield gateway


def claude(gateway: SdkGateway) -> anthropic.AsyncAnthropic:
    app = gateway.harness.app
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gateway")
    return anthropic.AsyncAnthropic(api_key=KEYS["writer"][0], base_url="http://gateway", http_client=client)


async def test_a_tool_use_round_trip(loop: SdkGateway) -> None:
    client = claude(loop)
    first = await client.messages.create(
        model="gpt-loop", max_tokens=64, messages=ASK, tools=[WEATHER], tool_choice={"type": "any"}
    )
    assert first.stop_reason == "tool_use"
    (use,) = first.content
    assert use.type == "tool_use" and (use.id, use.name, use.input) == ("call-7", "get_weather", {"city": "Paris"})
    # The loopback's usage: 40 prompt tokens of which 32 cached.
    assert (first.usage.input_tokens, first.usage.cache_read_input_tokens, first.usage.output_tokens) == (8, 32, 12)
    sent = loop.upstream.last
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["input_schema"],
                "description": "The weather in a city",
            },
        }
    ]
    assert sent["tool_choice"] == "required"

    result = {"type": "tool_result", "tool_use_id": use.id, "content": "18C, sunny"}
    history = [*ASK, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    second = await client.messages.create(model="gpt-loop", max_tokens=64, messages=history, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert [(b.type, getattr(b, "text", None)) for b in second.content] == [("text", "18C and sunny in Paris.")]
    assert loop.upstream.last["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call-7", "get_weather", '{"city":"Paris"}')]},
        {"role": "tool", "tool_call_id": "call-7", "content": "18C, sunny"},
    ]
    called, answered = await loop.events()
    assert called.call_id == first.id and called.metadata["endpoint"] == "messages"
    assert called.choices[0].tool_calls[0].function.arguments == ARGUMENTS
    assert called.usage.cached_prompt_tokens == 32
    assert [m.role for m in answered.messages] == ["user", "assistant", "tool"]
    assert answered.messages[1].tool_calls[0].id == "call-7" and answered.messages[2].tool_call_id == "call-7"


async def test_a_streamed_tool_use_is_reassembled_by_the_sdk_and_recorded(loop: SdkGateway) -> None:
    async with claude(loop).messages.stream(model="gpt-loop", max_tokens=64, messages=ASK, tools=[WEATHER]) as stream:
        partial = [event.partial_json async for event in stream if event.type == "input_json"]
        final = await stream.get_final_message()
    assert len(partial) == 2 and "".join(partial) == ARGUMENTS  # the loopback streams the arguments in two pieces
    assert final.stop_reason == "tool_use"
    (use,) = final.content
    assert use.type == "tool_use" and (use.id, use.name, use.input) == ("call-7", "get_weather", {"city": "Paris"})
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (8, 12, 32)
    assert loop.upstream.last["stream_options"] == {"include_usage": True}
    (event,) = await loop.events()
    assert event.call_id == final.id and event.choices[0].tool_calls[0].function.arguments == ARGUMENTS


async def test_a_streamed_answer_with_text_then_a_tool_call_is_two_blocks(loop: SdkGateway) -> None:
    calls = [tool_call("call-8", "get_weather", ARGUMENTS)]
    loop.upstream.answer = lambda body: completion("Let me check.", tool_calls=calls, finish_reason="tool_calls")
    async with claude(loop).messages.stream(model="gpt-loop", max_tokens=64, messages=ASK, tools=[WEATHER]) as stream:
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Let me check."  # type: ignore[union-attr]


async def test_images_are_forwarded_and_recorded_by_reference(loop: SdkGateway) -> None:
    data = base64.b64encode(b"\x89PNG fake image bytes").decode()
    content: Any = [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]
    await claude(loop).messages.create(model="gpt-loop", max_tokens=8, messages=[{"role": "user", "content": content}])
    assert loop.upstream.last["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    (event,) = await loop.events()
    inline, linked = event.messages[0].content[1:]
    assert (inline.type, inline.media_type, inline.size_bytes) == (
        "image",
        "image/png",
        len(b"\x89PNG fake image bytes"),
    )
    assert linked.url == "https://example.com/cat.jpg"


async def test_a_matched_stop_sequence_the_upstream_names_is_anthropics_stop_sequence(loop: SdkGateway) -> None:
    loop.upstream.answer = lambda body: completion("one, two", stop_reason="three")  # vLLM names the match
    message = await claude(loop).messages.create(model="gpt-loop", max_tokens=8, messages=ASK, stop_sequences=["three"])
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "three")
    assert loop.upstream.last["stop"] == ["three"]


async def test_top_k_reaches_an_openai_compatible_upstream(loop: SdkGateway) -> None:
    await claude(loop).messages.create(model="gpt-loop", max_tokens=8, messages=ASK, extra_body={"top_k": 5})
    assert loop.upstream.last["top_k"] == 5


@pytest.mark.parametrize(("extra", "named"), [({"top_k": 5}, "'top_k'"), ({"tools": [WEATHER]}, "'tools'")])
async def test_a_backend_that_cannot_do_a_feature_refuses_it_naming_it_and_the_model(
    loop: SdkGateway, extra: dict[str, Any], named: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude(loop).messages.create(model="triton-llm", max_tokens=8, messages=ASK, extra_body=extra)
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert named in message and "'triton-llm'" in message and "Triton" in message
    (refused,) = await loop.events()
    assert refused.status == "error" and refused.metadata["http_status"] == "400"


class Forecast(BaseModel):
    city: str
    celsius: int


async def test_the_sdks_parse_helper_gets_structured_output(loop: SdkGateway) -> None:
    loop.upstream.answer = lambda body: completion('{"city": "Paris", "celsius": 18}')
    parsed = await claude(loop).messages.parse(
        model="gpt-loop", max_tokens=64, messages=ASK, output_format=Forecast, output_config={"effort": "low"}
    )
    assert parsed.parsed_output == Forecast(city="Paris", celsius=18)
    sent = loop.upstream.last
    assert sent["response_format"]["type"] == "json_schema" and sent["response_format"]["json_schema"]["strict"]
    assert set(sent["response_format"]["json_schema"]["schema"]["properties"]) == {"city", "celsius"}
    assert sent["reasoning_effort"] == "low"
