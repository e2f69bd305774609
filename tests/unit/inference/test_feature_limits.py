"""Bad input for tools, structured outputs, images and ``n`` (issue 8, "Bad input and limits"): a clear 4xx
naming the parameter, through the official SDK, before anything reaches the upstream; a backend that cannot do a
feature answers 400 naming it and the model, recorded as a failed call like other upstream refusals.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import openai
import pytest
from llmops_inference.config import InferenceSettings

from tests.unit.inference.sdk_support import sdk_gateway

ASK = {"role": "user", "content": "Weather?"}
SMALL = InferenceSettings(
    replay_interval_s=0.05, max_n=3, max_image_bytes=1024, max_schema_bytes=256, requests_per_minute=0
)


def tool(parameters: Any, name: str = "get_weather", kind: str = "function") -> dict[str, Any]:
    return {"type": kind, kind: {"name": name, "parameters": parameters}}


def image(url: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": url}}],
    }


def png(size: int) -> str:
    return "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(size - 4)).decode()


CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
BIG_SCHEMA = {"type": "object", "properties": {f"field_{i}": {"type": "string"} for i in range(20)}}
CASES = [
    ({"tools": [tool({"type": "objekt"})]}, 400, "tools.0.function.parameters", "invalid_tool_schema"),
    (
        {"tools": [tool({"type": "object", "required": "city"})]},
        400,
        "tools.0.function.parameters",
        "invalid_tool_schema",
    ),
    ({"tools": [tool(["not", "an", "object"])]}, 400, "tools.0.function.parameters", "invalid_tool_schema"),
    ({"tools": [tool({"type": "object"}, name="get weather!")]}, 400, "tools.0.function.name", "invalid_tool"),
    ({"tools": [tool({"type": "object"}, kind="retrieval")]}, 400, "tools.0.type", "invalid_tool"),
    ({"tools": [tool(BIG_SCHEMA)]}, 413, "tools.0.function.parameters", "schema_too_large"),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": 5}}}},
        400,
        "response_format.json_schema.schema",
        "invalid_schema",
    ),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": BIG_SCHEMA}}},
        413,
        "response_format.json_schema.schema",
        "schema_too_large",
    ),
    ({"response_format": {"type": "yaml"}}, 400, "response_format.type", "invalid_value"),
    (
        {"messages": [ASK, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]},
        400,
        "messages.1.tool_call_id",
        "unmatched_tool_result",
    ),
    (
        {
            "messages": [
                ASK,
                {"role": "tool", "tool_call_id": "call_1", "content": "x"},
                {"role": "assistant", "tool_calls": [CALL]},
            ]
        },
        400,
        "messages.1.tool_call_id",
        "unmatched_tool_result",
    ),
    (
        {
            "messages": [
                ASK,
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f"}}]},
            ]
        },
        400,
        "messages.1.tool_calls.0.function",
        "invalid_tool_call",
    ),
    ({"messages": [image(png(1025))]}, 413, "messages.0.content.1.image_url.url", "image_too_large"),
    (
        {"messages": [image("data:application/pdf;base64,JVBERi0=")]},
        400,
        "messages.0.content.1.image_url.url",
        "unsupported_content_type",
    ),
    (
        {"messages": [image("data:image/png;base64,not*base64!")]},
        400,
        "messages.0.content.1.image_url.url",
        "invalid_image_url",
    ),
    (
        {"messages": [image("ftp://files.example.test/cat.png")]},
        400,
        "messages.0.content.1.image_url.url",
        "invalid_image_url",
    ),
    (
        {"messages": [image("https://img.example.test/" + "a" * 2100)]},
        400,
        "messages.0.content.1.image_url.url",
        "invalid_image_url",
    ),
    ({"n": 4}, 400, "n", "n_too_large"),
]


@pytest.mark.parametrize(("fields", "status", "param", "code"), CASES)
async def test_bad_features_are_refused_naming_the_parameter(
    make_harness: Callable[..., Any], fields: dict[str, Any], status: int, param: str, code: str
) -> None:
    async with sdk_gateway(make_harness, SMALL) as gw:
        with pytest.raises(openai.APIStatusError) as caught:
            await gw.sdk.chat.completions.create(**{"model": "gpt-loop", "messages": [ASK], **fields})
        assert (caught.value.status_code, caught.value.param, caught.value.code) == (status, param, code)  # type: ignore[attr-defined]
        assert caught.value.message.startswith(f"Error code: {status} - {param}: ")
        assert gw.upstream.bodies == [] and await gw.events() == []


async def test_within_the_bounds_the_same_features_pass(make_harness: Callable[..., Any]) -> None:
    assistant = {"role": "assistant", "content": None, "tool_calls": [CALL]}
    async with sdk_gateway(make_harness, SMALL) as gw:
        await gw.sdk.chat.completions.create(
            model="gpt-loop",
            messages=[image(png(1024)), assistant, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],  # type: ignore[list-item]
            tools=[tool({"type": "object"})],  # type: ignore[list-item]
            n=3,
        )
        assert len(gw.upstream.bodies) == 1


async def test_a_completion_over_max_n_is_refused(make_harness: Callable[..., Any]) -> None:
    async with sdk_gateway(make_harness, SMALL) as gw:
        with pytest.raises(openai.BadRequestError) as caught:
            await gw.sdk.completions.create(model="gpt-loop", prompt="x", n=4)
        assert caught.value.param == "n" and gw.upstream.bodies == []


@pytest.mark.parametrize(
    ("messages", "param", "feature"),
    [
        ([image("https://img.example.test/cat.png")], "messages.0.content.1", "image_url content"),
        ([ASK, {"role": "assistant", "content": None, "tool_calls": [CALL]}], "messages.1.tool_calls", "tool calls"),
    ],
)
async def test_the_triton_backend_refuses_images_and_tool_calls_naming_them(
    make_harness: Callable[..., Any], messages: list[dict[str, Any]], param: str, feature: str
) -> None:
    async with sdk_gateway(make_harness) as gw:
        with pytest.raises(openai.BadRequestError) as caught:
            await gw.sdk.chat.completions.create(model="triton-llm", messages=messages)  # type: ignore[arg-type]
        assert (
            caught.value.param == param and feature in caught.value.message and "'triton-llm'" in caught.value.message
        )
        (event,) = await gw.events()
        assert (event.status, event.error.code, event.metadata["http_status"]) == (
            "error",
            "unsupported_parameter",
            "400",
        )
