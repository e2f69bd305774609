"""No field is silently dropped (issue 8 §1, ADR 0016): every field of the pinned ``openai`` SDK's Chat
Completions and Completions parameters, sent through the SDK, reaches the OpenAI-compatible loopback upstream
unchanged, or the gateway answers 400 naming it; the Triton backend honours it or answers 400 naming it and
the model.

The field lists come from the SDK's own TypedDicts: a field a newer SDK adds fails
:func:`test_every_sdk_field_is_classified` until this table (and docs/inference.md's) says what happens to it.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai.types import completion_create_params as text_params
from openai.types.chat import completion_create_params as chat_params

from tests.unit.inference.sdk_support import sdk_gateway

MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}
JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
    },
}

CHAT_SAMPLES: dict[str, Any] = {
    "frequency_penalty": 0.5,
    "function_call": "auto",
    "functions": [WEATHER_TOOL["function"]],
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "max_completion_tokens": 64,
    "max_tokens": 32,
    "metadata": {"team": "search"},
    "moderation": {"policy": {"input": {"mode": "block"}}},
    "modalities": ["text"],
    "n": 2,
    "parallel_tool_calls": False,
    "prediction": {"type": "content", "content": "The weather is"},
    "presence_penalty": -0.5,
    "prompt_cache_key": "tenant-7",
    "prompt_cache_options": {"mode": "explicit", "ttl": "30m"},
    "prompt_cache_retention": "24h",
    "reasoning_effort": "low",
    "response_format": JSON_SCHEMA,
    "safety_identifier": "user-hash-1",
    "seed": 7,
    "service_tier": "flex",
    "stop": ["END", "STOP"],
    "store": True,
    "stream_options": {"include_usage": False, "include_obfuscation": False},
    "temperature": 0.3,
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "tools": [WEATHER_TOOL],
    "top_logprobs": 3,
    "top_p": 0.9,
    "user": "user-1",
    "verbosity": "low",
    "web_search_options": {"search_context_size": "low"},
}
"""One valid value for each forwarded field."""
CHAT_REFUSED: dict[str, Any] = {"audio": {"voice": "alloy", "format": "wav"}}
"""Fields refused whatever the backend (audio output)."""
CHAT_OWN = {"model", "messages"}
"""Fields the gateway acts on itself: the public model name routes, the messages are forwarded as sent."""
TRITON_HONOURED = {"max_completion_tokens", "max_tokens", "metadata", "seed", "stop", "stream_options"}
TRITON_HONOURED |= {"temperature", "top_p", "user", "parallel_tool_calls", "modalities"}
"""Chat fields the Triton backend honours (sampling), the gateway records (user, metadata), or that ask for
nothing beyond text (``parallel_tool_calls`` without tools, ``modalities: ["text"]``); Triton refuses the rest."""

TEXT_SAMPLES: dict[str, Any] = {
    "best_of": 2,
    "echo": True,
    "frequency_penalty": 0.5,
    "logit_bias": {"50256": -100},
    "logprobs": 2,
    "max_tokens": 16,
    "n": 2,
    "presence_penalty": 0.5,
    "seed": 3,
    "stop": ["\n"],
    "stream_options": {"include_usage": False},
    "suffix": " -- end",
    "temperature": 0.2,
    "top_p": 0.5,
    "user": "user-2",
}
TEXT_OWN = {"model", "prompt"}


def sdk_fields(params: type) -> set[str]:
    return set(typing.get_type_hints(params))


def test_every_sdk_field_is_classified() -> None:
    chat = sdk_fields(chat_params.CompletionCreateParamsBase)
    assert chat == set(CHAT_SAMPLES) | set(CHAT_REFUSED) | CHAT_OWN, "classify the new fields (and document them)"
    assert sdk_fields(text_params.CompletionCreateParamsBase) == set(TEXT_SAMPLES) | TEXT_OWN
    streaming = sdk_fields(chat_params.CompletionCreateParamsStreaming) - chat
    assert streaming == {"stream"}


def expected(field: str, value: Any, body: dict[str, Any]) -> Any:
    """What the upstream must receive for ``field``: the value as sent (usage is always asked of a stream)."""
    if field == "stream_options":
        return {**value, "include_usage": True}
    return value


@pytest.mark.parametrize("field", sorted(CHAT_SAMPLES))
async def test_each_chat_field_reaches_the_upstream_unchanged(make_harness: Callable[..., Any], field: str) -> None:
    value = CHAT_SAMPLES[field]
    stream = {"stream": True} if field == "stream_options" else {}
    async with sdk_gateway(make_harness) as gw:
        answer = await gw.sdk.chat.completions.create(model="gpt-loop", messages=MESSAGES, **{field: value}, **stream)
        if stream:
            _ = [chunk async for chunk in answer]  # type: ignore[union-attr]
        body = gw.upstream.last
        assert body[field] == expected(field, value, body)
        assert body["model"] == "up-model" and body["messages"] == MESSAGES


@pytest.mark.parametrize("field", sorted(CHAT_REFUSED))
async def test_refused_chat_fields_are_400_naming_them(make_harness: Callable[..., Any], field: str) -> None:
    async with sdk_gateway(make_harness) as gw:
        with pytest.raises(openai.BadRequestError) as caught:
            await gw.sdk.chat.completions.create(model="gpt-loop", messages=MESSAGES, **{field: CHAT_REFUSED[field]})
        assert caught.value.param == field and field in caught.value.message
        assert gw.upstream.bodies == []


@pytest.mark.parametrize("field", sorted(CHAT_SAMPLES))
async def test_the_triton_backend_honours_a_field_or_refuses_it_naming_it_and_the_model(
    make_harness: Callable[..., Any], field: str
) -> None:
    async with sdk_gateway(make_harness) as gw:
        call = gw.sdk.chat.completions.create(model="triton-llm", messages=MESSAGES, **{field: CHAT_SAMPLES[field]})
        if field in TRITON_HONOURED:
            assert (await call).choices[0].message.content == "plain text"
            return
        with pytest.raises(openai.BadRequestError) as caught:
            await call
        assert caught.value.param == field and caught.value.code == "unsupported_parameter"
        assert f"'{field}'" in caught.value.message and "'triton-llm'" in caught.value.message
        (event,) = await gw.events()
        assert event.status == "error" and event.error.code == "unsupported_parameter"


async def test_fields_the_gateway_does_not_know_are_forwarded_too(make_harness: Callable[..., Any]) -> None:
    """What an OpenAI-compatible server adds (vLLM's ``top_k``, ``guided_json``) reaches it, as sent."""
    extra = {"top_k": 20, "guided_json": {"type": "object"}, "chat_template_kwargs": {"enable_thinking": False}}
    async with sdk_gateway(make_harness) as gw:
        await gw.sdk.chat.completions.create(model="gpt-loop", messages=MESSAGES, extra_body=extra)
        assert {key: gw.upstream.last[key] for key in extra} == extra
        await gw.sdk.chat.completions.create(model="gpt-loop", messages=MESSAGES, extra_body={"prompt_x": None})
        assert "prompt_x" in gw.upstream.last and gw.upstream.last["prompt_x"] is None


async def test_message_keys_and_content_part_keys_are_forwarded_as_sent(make_harness: Callable[..., Any]) -> None:
    messages = [
        {
            "role": "developer",
            "content": [{"type": "text", "text": "Be brief.", "prompt_cache_breakpoint": {"mode": "explicit"}}],
        },
        {"role": "user", "content": "Hi", "name": "ann"},
        {"role": "assistant", "content": None, "refusal": "I cannot", "audio": None},
        {"role": "user", "content": "Again?"},
    ]
    async with sdk_gateway(make_harness) as gw:
        await gw.sdk.chat.completions.create(model="gpt-loop", messages=messages)  # type: ignore[arg-type]
        assert gw.upstream.last["messages"] == messages


@pytest.mark.parametrize("field", sorted(TEXT_SAMPLES))
async def test_each_completions_field_reaches_the_upstream_unchanged(
    make_harness: Callable[..., Any], field: str
) -> None:
    value = TEXT_SAMPLES[field]
    stream = {"stream": True} if field == "stream_options" else {}
    async with sdk_gateway(make_harness) as gw:
        gw.upstream.answer = lambda body: {
            "id": "cmpl-up",
            "object": "text_completion",
            "created": 1,
            "model": "up-model",
            "choices": [{"index": 0, "text": "done", "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
        }
        answer = await gw.sdk.completions.create(model="gpt-loop", prompt="Say", **{field: value}, **stream)
        if stream:
            _ = [chunk async for chunk in answer]  # type: ignore[union-attr]
        else:
            assert answer.choices[0].text == "done"  # type: ignore[union-attr]
        assert gw.upstream.last[field] == expected(field, value, gw.upstream.last)
        assert gw.upstream.last["prompt"] == "Say"
