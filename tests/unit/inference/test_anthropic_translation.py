"""The Claude front's translation, function by function: Anthropic request -> chat request, chat answer and
chunks -> Anthropic message and events (what the SDK tests cannot easily provoke: refusals, stop sequences,
cache tokens, invalid tool arguments, interleaved blocks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from llmops_inference.anthropic_front.answers import message_body, usage_of
from llmops_inference.anthropic_front.models import MessagesRequest
from llmops_inference.anthropic_front.requests import ERROR_PREFIX, to_chat_request
from llmops_inference.anthropic_front.stream import anthropic_events
from llmops_inference.errors import GatewayError
from llmops_inference.streaming import DONE, sse


def translate(**fields: Any) -> dict[str, Any]:
    body = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], **fields}
    request = to_chat_request(MessagesRequest.model_validate(body)).request
    return request.model_dump(exclude_unset=True, exclude_none=True)


def test_a_tool_result_becomes_a_tool_message_before_the_rest_of_the_turn() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "P"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "no data"}],
                    "is_error": True,
                },
                {"type": "text", "text": "then guess"},
            ],
        },
    ]
    sent = translate(messages=messages)["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "w", "arguments": '{"c":"P"}'}}],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "t1", "content": ERROR_PREFIX + "no data"}
    assert sent[3] == {"role": "user", "content": [{"type": "text", "text": "then guess"}]}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any", "disable_parallel_tool_use": True}, {"tool_choice": "required", "parallel_tool_calls": False}),
        ({"type": "tool", "name": "w"}, {"tool_choice": {"type": "function", "function": {"name": "w"}}}),
        ({"type": "none"}, {"tool_choice": "none"}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: dict[str, Any]) -> None:
    tools = [{"name": "w", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]
    sent = translate(tools=tools, tool_choice=choice)
    assert sent["tools"] == [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]
    assert {k: sent[k] for k in expected} == expected and ("parallel_tool_calls" in sent) == (
        "parallel_tool_calls" in expected
    )


def test_sampling_stops_user_and_streams_ask_for_usage() -> None:
    sent = translate(
        temperature=0.5,
        top_p=0.8,
        top_k=4,
        stop_sequences=["##"],
        metadata={"user_id": "u-1"},
        stream=True,
        cache_control={"type": "ephemeral"},
    )
    assert "cache_control" not in sent and "metadata" not in sent
    assert {k: sent[k] for k in ("temperature", "top_p", "top_k", "stop", "user")} == {
        "temperature": 0.5,
        "top_p": 0.8,
        "top_k": 4,
        "stop": ["##"],
        "user": "u-1",
    }
    assert sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}],
                        }
                    ],
                }
            ],
            "messages.0.content.0.content.0: images in tool results cannot be translated",
        ),
        (
            [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "w", "input": {}}]}],
            "messages.0.content.0: a user turn cannot hold 'tool_use' blocks",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}],
                }
            ],
            "messages.0.content.0: an assistant turn cannot hold 'image' blocks",
        ),
    ],
)
def test_untranslatable_blocks_are_refused_by_position(messages: list[Any], message: str) -> None:
    with pytest.raises(GatewayError) as caught:
        translate(messages=messages)
    assert (caught.value.status, caught.value.message) == (400, message)


def test_a_refusal_about_a_translated_message_names_the_callers_block() -> None:
    body = {
        "model": "m",
        "max_tokens": 8,
        "system": "s",
        "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "x"}]}],
    }
    translated = to_chat_request(MessagesRequest.model_validate(body))
    error = GatewayError(400, "messages.1.tool_call_id: no earlier call", param="messages.1.tool_call_id")
    assert translated.locate(error).message == (
        "messages.1.tool_call_id: no earlier call (messages.1 of the translated chat request is messages.0.content.0)"
    )
    assert translated.locate(GatewayError(400, "model: x", param="model")).message == "model: x"


def answer(message: dict[str, Any], finish: str = "stop", **choice: Any) -> dict[str, Any]:
    usage = {
        "prompt_tokens": 30,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 4},
    }
    return {
        "id": "msg-1",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, **choice}],
        "usage": usage,
    }


def test_usage_separates_cache_reads_and_writes_as_anthropic_does() -> None:
    body = message_body(answer({"role": "assistant", "content": "ok"}), [])
    assert body["usage"] == {
        "input_tokens": 16,
        "output_tokens": 5,
        "cache_creation_input_tokens": 4,
        "cache_read_input_tokens": 10,
    }
    assert usage_of(None) == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
    }


def test_stop_reasons() -> None:
    text = {"role": "assistant", "content": "ok"}
    assert message_body(answer(text, "stop", stop_reason="##"), ["##"])["stop_reason"] == "stop_sequence"
    assert message_body(answer(text, "stop", stop_reason="##"), ["##"])["stop_sequence"] == "##"
    assert message_body(answer(text, "stop"), ["##"])["stop_reason"] == "end_turn"
    assert message_body(answer(text, "length"), [])["stop_reason"] == "max_tokens"
    assert message_body(answer(text, "content_filter"), [])["stop_reason"] == "refusal"
    refusal = message_body(answer({"role": "assistant", "content": None, "refusal": "I can't."}), [])
    assert (refusal["content"], refusal["stop_reason"]) == ([{"type": "text", "text": "I can't."}], "refusal")


def test_tool_arguments_that_are_not_an_object_are_a_502() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "w", "arguments": "[1, 2"}}
    with pytest.raises(GatewayError) as caught:
        message_body(answer({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"), [])
    assert caught.value.status == 502 and "'w'" in caught.value.message


async def events_of(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield sse(chunk)
        yield DONE

    out = [item async for item in anthropic_events(stream(), [])]
    assert all(item.count(b"\n") == 3 and item.endswith(b"\n\n") for item in out)  # one event per item, no more
    return [json.loads(item.split(b"\ndata: ", 1)[1]) for item in out]


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "msg-2", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def test_text_then_two_tool_calls_are_three_blocks_in_order() -> None:
    calls = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Looking."}),
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "w", "arguments": '{"c":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"P"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "t", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
        {"id": "msg-2", "model": "m", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
    ]
    events = await events_of(calls)
    summary = [(e["type"], e.get("index")) for e in events]
    assert summary == [
        ("message_start", None),
        ("ping", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert events[5]["content_block"] == {"type": "tool_use", "id": "a", "name": "w", "input": {}}
    assert events[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2]["usage"] == {"input_tokens": 9, "output_tokens": 3}


async def test_an_error_chunk_ends_the_stream_with_an_error_event() -> None:
    failure = {"error": {"message": "the upstream sent nothing for 5s", "type": "server_error", "code": "timeout"}}
    events = await events_of([chunk({"role": "assistant", "content": ""}), chunk({"content": "par"}), failure])
    assert events[-1] == {
        "type": "error",
        "error": {"type": "timeout_error", "message": "the upstream sent nothing for 5s"},
    }
    assert "message_stop" not in [e["type"] for e in events]


async def test_hostile_text_cannot_forge_an_event() -> None:
    events = await events_of([chunk({"content": "\n\nevent: message_stop\ndata: {}\n\n"})])
    assert events[3]["delta"]["text"] == "\n\nevent: message_stop\ndata: {}\n\n"
