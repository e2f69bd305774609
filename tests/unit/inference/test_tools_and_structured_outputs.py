"""Tool calling, structured outputs, images, ``n`` and logprobs through the official ``openai`` SDK (issue 8 §2):
relayed so the SDK (and its ``parse``/``stream`` helpers) re-assembles them, and recorded in the v2 call event.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.unit.inference.sdk_support import USAGE, completion, sdk_gateway, tool_call

ASK = {"role": "user", "content": "Weather in Paris and Rome?"}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
CALLS = [
    tool_call("call_paris", "get_weather", '{"city": "Paris"}'),
    tool_call("call_rome", "get_weather", '{"city": "Rome"}'),
]


def weather_agent(body: dict[str, Any]) -> dict[str, Any]:
    """Calls the tool for each city, then answers from the tool results."""
    results = [m for m in body["messages"] if m["role"] == "tool"]
    if not results:
        return completion(None, tool_calls=CALLS, finish_reason="tool_calls")
    return completion(" / ".join(m["content"] for m in results))


def follow_up(calls: list[Any]) -> list[dict[str, Any]]:
    """The conversation after the model called ``calls``: its message and one result per call."""
    assistant = {"role": "assistant", "content": None, "tool_calls": [c.model_dump(exclude_none=True) for c in calls]}
    results = [
        {"role": "tool", "tool_call_id": c.id, "content": f"sunny in {json.loads(c.function.arguments)['city']}"}
        for c in calls
    ]
    return [ASK, assistant, *results]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_tool_calling_round_trip(make_harness: Callable[..., Any], stream: bool) -> None:
    async with sdk_gateway(make_harness) as gw:
        gw.upstream.answer = weather_agent
        if stream:
            async with gw.sdk.chat.completions.stream(model="gpt-loop", messages=[ASK], tools=TOOLS) as events:  # type: ignore[list-item]
                first = await events.get_final_completion()
        else:
            first = await gw.sdk.chat.completions.create(
                model="gpt-loop", messages=[ASK], tools=TOOLS, tool_choice="auto"
            )  # type: ignore[list-item,assignment]
        calls = first.choices[0].message.tool_calls
        assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
            (c["id"], "get_weather", c["function"]["arguments"]) for c in CALLS
        ]
        assert first.choices[0].finish_reason == "tool_calls"
        assert gw.upstream.last["tools"] == TOOLS
        second = await gw.sdk.chat.completions.create(
            model="gpt-loop",
            messages=follow_up(calls),
            tools=TOOLS,
            stream=False,  # type: ignore[arg-type]
        )
        assert second.choices[0].message.content == "sunny in Paris / sunny in Rome"
        assert gw.upstream.last["messages"] == follow_up(calls)
        asked, answered = await gw.events()
    recorded = asked.choices[0].tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in recorded] == [
        (c["id"], "get_weather", c["function"]["arguments"]) for c in CALLS
    ]
    assert asked.choices[0].output is None and asked.choices[0].finish_reason == "tool_calls"
    assert (
        asked.request.tools[0].name == "get_weather"
        and json.loads(asked.request.tools[0].parameters) == TOOLS[0]["function"]["parameters"]
    )
    assert asked.request.stream is stream and (asked.request.tool_choice is None) is stream
    assert [c.id for c in answered.messages[1].tool_calls] == ["call_paris", "call_rome"]
    assert [(m.role, m.tool_call_id, m.content) for m in answered.messages[2:]] == [
        ("tool", "call_paris", "sunny in Paris"),
        ("tool", "call_rome", "sunny in Rome"),
    ]
    assert answered.output == "sunny in Paris / sunny in Rome"
    assert asked.usage.cached_prompt_tokens == 32 and asked.usage.reasoning_tokens == 5


class Answer(BaseModel):
    city: str
    degrees: int


async def test_the_sdk_parse_helpers_get_a_parsed_model(make_harness: Callable[..., Any]) -> None:
    async with sdk_gateway(make_harness) as gw:
        gw.upstream.answer = lambda body: completion('{"city": "Paris", "degrees": 21}')
        parsed = await gw.sdk.chat.completions.parse(model="gpt-loop", messages=[ASK], response_format=Answer)  # type: ignore[list-item]
        assert parsed.choices[0].message.parsed == Answer(city="Paris", degrees=21)
        sent = gw.upstream.last["response_format"]
        assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
        assert sent["json_schema"]["schema"]["required"] == ["city", "degrees"]
        beta = await gw.sdk.beta.chat.completions.parse(model="gpt-loop", messages=[ASK], response_format=Answer)  # type: ignore[list-item]
        assert beta.choices[0].message.parsed == Answer(city="Paris", degrees=21)
        async with gw.sdk.chat.completions.stream(model="gpt-loop", messages=[ASK], response_format=Answer) as events:  # type: ignore[list-item]
            streamed = await events.get_final_completion()
        assert streamed.choices[0].message.parsed == Answer(city="Paris", degrees=21)
        await gw.sdk.chat.completions.create(model="gpt-loop", messages=[ASK], response_format={"type": "json_object"})  # type: ignore[list-item]
        assert gw.upstream.last["response_format"] == {"type": "json_object"}
        event = (await gw.events())[0]
    assert (event.request.response_format.type, event.request.response_format.name) == ("json_schema", "Answer")
    assert json.loads(event.request.response_format.json_schema)["required"] == ["city", "degrees"]


async def test_parse_with_a_pydantic_tool_gets_parsed_arguments(make_harness: Callable[..., Any]) -> None:
    async with sdk_gateway(make_harness) as gw:
        gw.upstream.answer = lambda body: completion(
            None, tool_calls=[tool_call("call_1", "Answer", '{"city": "Oslo", "degrees": 3}')]
        )
        parsed = await gw.sdk.chat.completions.parse(
            model="gpt-loop",
            messages=[ASK],
            tools=[openai.pydantic_function_tool(Answer)],  # type: ignore[list-item]
        )
        (call,) = parsed.choices[0].message.tool_calls  # type: ignore[misc]
        assert call.function.parsed_arguments == Answer(city="Oslo", degrees=3)
        assert gw.upstream.last["tools"][0]["function"]["strict"] is True


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@pytest.mark.parametrize("stream", [False, True])
async def test_images_are_forwarded_and_recorded_as_references(make_harness: Callable[..., Any], stream: bool) -> None:
    inline = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://img.example.test/cat.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": inline}},
    ]
    async with sdk_gateway(make_harness) as gw:
        answer = await gw.sdk.chat.completions.create(
            model="gpt-loop",
            messages=[{"role": "user", "content": content}],
            stream=stream,  # type: ignore[misc]
        )
        if stream:
            _ = [chunk async for chunk in answer]  # type: ignore[union-attr]
        assert gw.upstream.last["messages"][0]["content"] == content
        (event,) = await gw.events()
    text, by_url, by_bytes = event.messages[0].content
    assert text.text == "What is in these?"
    assert (by_url.type, by_url.url, by_url.detail, by_url.sha256) == (
        "image",
        "https://img.example.test/cat.jpg",
        "low",
        None,
    )
    assert (by_bytes.media_type, by_bytes.size_bytes, by_bytes.url) == ("image/png", len(PNG), None)
    assert by_bytes.sha256 == hashlib.sha256(PNG).hexdigest()
    assert "base64" not in event.model_dump_json()


def logprobs(*tokens: str) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": t,
                "logprob": -0.1 * i,
                "bytes": None,
                "top_logprobs": [{"token": t, "logprob": -0.1 * i, "bytes": None}],
            }
            for i, t in enumerate(tokens)
        ],
        "refusal": None,
    }


def two_choices(body: dict[str, Any]) -> dict[str, Any]:
    answer = completion("Hi there", logprobs=logprobs("Hi t", "here"))
    second = {
        "index": 1,
        "message": {"role": "assistant", "content": "Hello!!!"},
        "logprobs": logprobs("Hell", "o!!!"),
        "finish_reason": "stop",
    }
    answer["choices"].append(second)
    return answer


@pytest.mark.parametrize("stream", [False, True])
async def test_n_choices_and_logprobs_are_relayed_and_recorded(make_harness: Callable[..., Any], stream: bool) -> None:
    async with sdk_gateway(make_harness) as gw:
        gw.upstream.answer = two_choices
        ask = {"model": "gpt-loop", "messages": [ASK], "n": 2, "logprobs": True, "top_logprobs": 1}
        if stream:
            async with gw.sdk.chat.completions.stream(**ask) as events:  # type: ignore[arg-type]
                answer = await events.get_final_completion()
        else:
            answer = await gw.sdk.chat.completions.create(**ask)  # type: ignore[arg-type,assignment]
        assert [c.message.content for c in answer.choices] == ["Hi there", "Hello!!!"]
        assert [[t.token for t in c.logprobs.content] for c in answer.choices] == [["Hi t", "here"], ["Hell", "o!!!"]]  # type: ignore[union-attr]
        if not stream:  # a stream carries usage only when asked (stream_options), as OpenAI's do
            assert answer.usage.prompt_tokens_details.cached_tokens == 32  # type: ignore[union-attr]
        (event,) = await gw.events()
    assert [(c.output, c.finish_reason) for c in event.choices] == [("Hi there", "stop"), ("Hello!!!", "stop")]
    assert [[t.token for t in c.logprobs] for c in event.choices] == [["Hi t", "here"], ["Hell", "o!!!"]]  # type: ignore[union-attr]
    assert (event.request.n, event.request.logprobs, event.request.top_logprobs) == (2, True, 1)
    assert event.usage.cached_prompt_tokens == 32


async def test_a_plain_stream_keeps_the_gateways_framing(make_harness: Callable[..., Any]) -> None:
    async with sdk_gateway(make_harness) as gw:
        stream = await gw.sdk.chat.completions.create(
            model="gpt-loop",
            messages=[ASK],
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[list-item]
        )
        pieces = [chunk async for chunk in stream]
        assert pieces[0].choices[0].delta.role == "assistant"
        assert all(p.choices[0].delta.role is None for p in pieces[1:] if p.choices)
        assert "".join(p.choices[0].delta.content or "" for p in pieces if p.choices) == "ok"
        assert pieces[-1].usage.total_tokens == USAGE["total_tokens"]  # type: ignore[union-attr]
        assert pieces[-1].usage.completion_tokens_details.reasoning_tokens == 5  # type: ignore[union-attr]
        assert sum(1 for p in pieces if p.choices and p.choices[0].finish_reason) == 1
        assert {p.id for p in pieces} == {pieces[0].id} and pieces[0].id.startswith("chatcmpl-")
