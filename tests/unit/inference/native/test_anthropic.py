"""OpenAI <-> Anthropic Messages API: requests checked against the SDK's request types, answers, streams and
errors built from the SDK's response types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmops_inference.adapters.http_transport import HttpAnswer
from llmops_inference.adapters.native.anthropic import AnthropicDialect, from_anthropic, to_anthropic
from llmops_inference.adapters.native.anthropic_stream import usage_of
from llmops_inference.adapters.native.common import Unsupported
from llmops_inference.domain import Usage
from llmops_inference.recording.call_parts import recorded_usage

from tests.fixtures.provider_answers import anthropic_error, anthropic_events, anthropic_message
from tests.fixtures.provider_requests import PNG, WEATHER, anthropic_problems


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-test", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_a_full_conversation_is_translated_and_well_formed_for_the_sdk() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture, and the weather?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "rain"}]},
    ]
    sent = to_anthropic(
        body(
            messages=messages,
            max_completion_tokens=99,
            temperature=0.3,
            top_p=0.9,
            stop=["END"],
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            parallel_tool_calls=False,
            user="end-user-7",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert anthropic_problems(sent) == []
    assert sent["system"] == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Answer in French."}]
    assert sent["max_tokens"] == 99 and sent["stop_sequences"] == ["END"] and sent["stream"] is True
    assert sent["metadata"] == {"user_id": "end-user-7"}
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert sent["tools"][0]["input_schema"]["required"] == ["city"] and sent["tools"][0]["strict"] is True
    user, assistant, results = sent["messages"]
    assert user["content"][1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert user["content"][2]["source"] == {"type": "url", "url": "https://example.test/cat.jpg"}
    assert [b["input"] for b in assistant["content"]] == [{"city": "Paris"}, {"city": "Rome"}]
    # Both tool results in one user turn, right after the assistant's tool use (as the Messages API requires).
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "rain"},
        ],
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ({"parallel_tool_calls": False, "tool_choice": "none"}, {"type": "none"}),
    ],
)
def test_tool_choices(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    sent = to_anthropic(body(tools=[WEATHER], **fields))
    assert sent["tool_choice"] == expected and anthropic_problems(sent) == []


def test_json_schema_output_and_effort_go_to_the_output_config() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "count", "schema": schema, "strict": True}}
    sent = to_anthropic(body(response_format=response_format, reasoning_effort="high"))
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}, "effort": "high"}
    assert anthropic_problems(sent) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"n": 2}, "n"),
        ({"seed": 7}, "seed"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"temperature": 1.5}, "temperature"),
        ({"reasoning_effort": "minimal"}, "reasoning_effort"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"some_future_field": 1}, "some_future_field"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools.0.type"),
        ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        ({"tools": [{**WEATHER, "function": {**WEATHER["function"], "examples": [1]}}]}, "tools.0.function.examples"),
        ({"messages": [{"role": "user", "content": "hi", "name": "bob"}]}, "messages.0.name"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "assistant", "content": "x", "audio": {"id": "a1"}}]}, "messages.0.audio"),
        ({"messages": [{"role": "user", "content": "x", "some_new_key": 1}]}, "messages.0.some_new_key"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}}],
                    }
                ]
            },
            "messages.0.content.0.image_url.detail",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "x", "prompt_cache_breakpoint": {"mode": "explicit", "ttl": "12h"}}
                        ],
                    }
                ]
            },
            "messages.0.content.0.prompt_cache_breakpoint.ttl",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}
                ]
            },
            "messages.0.content.0",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}
                ]
            },
            "messages.0.content.0",
        ),
        (
            {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages.0.content.0",
        ),
    ],
)
def test_what_anthropic_cannot_do_is_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(Unsupported) as refused:
        to_anthropic(body(**fields))
    assert refused.value.field == field
    assert f"'{field}' is not supported by model 'claude-test' (Anthropic Messages API)" in refused.value.message(
        "claude-test", "Anthropic Messages API"
    )


def test_prompt_cache_breakpoints_become_cache_control_and_refusals_text() -> None:
    breakpoint = {"mode": "explicit"}
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Long rules.", "prompt_cache_breakpoint": breakpoint}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Long doc.", "prompt_cache_breakpoint": {**breakpoint, "ttl": "30m"}}],
        },
        {"role": "assistant", "content": None, "refusal": "I cannot help with that."},
        {"role": "user", "content": "Why?"},
    ]
    sent = to_anthropic(body(messages=messages))
    assert anthropic_problems(sent) == []
    assert sent["system"] == [{"type": "text", "text": "Long rules.", "cache_control": {"type": "ephemeral"}}]
    assert sent["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "I cannot help with that."}]


def test_no_op_values_of_fields_anthropic_lacks_are_accepted() -> None:
    sent = to_anthropic(
        body(n=1, logprobs=False, presence_penalty=0, frequency_penalty=0.0, logit_bias={}, store=False)
    )
    assert anthropic_problems(sent) == []


def test_an_answer_with_text_tool_calls_and_cache_usage() -> None:
    message = anthropic_message(
        "Checking.", tools=(("toolu_9", "get_weather", {"city": "Oslo"}),), stop_reason="tool_use"
    )
    answer = from_anthropic(message.model_dump(mode="json"), "claude-test")
    (choice,) = answer["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking."
    (call,) = choice["message"]["tool_calls"]
    assert call == {
        "id": "toolu_9",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    # Anthropic's input_tokens leaves out cache reads (100) and writes (20); OpenAI's prompt_tokens counts them.
    assert answer["usage"] == {
        "prompt_tokens": 131,
        "completion_tokens": 7,
        "total_tokens": 138,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("refusal", "content_filter")],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    answer = from_anthropic(anthropic_message(stop_reason=stop_reason).model_dump(mode="json"), "m")
    assert answer["choices"][0]["finish_reason"] == finish


def test_a_stream_relays_text_and_tool_argument_deltas_then_usage() -> None:
    message = anthropic_message(
        "Let me look.", tools=(("toolu_1", "get_weather", {"city": "Paris"}),), stop_reason="tool_use"
    )
    stream = AnthropicDialect().stream(body(stream=True, stream_options={"include_usage": True}))
    chunks = []
    for event in anthropic_events(message):
        chunks += stream.feed(f"event: {event.type}")
        chunks += stream.feed("data: " + event.model_dump_json())
        chunks += stream.feed("")
    chunks += stream.close()
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content") or "" for d in deltas) == "Let me look."
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0]["id"] == "toolu_1" and calls[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Paris"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 131
    assert chunks[-1]["usage"]["completion_tokens"] == 7
    assert {c["id"] for c in chunks} == {"msg_test_0001"}


def test_an_error_event_mid_stream_becomes_an_openai_error_event() -> None:
    stream = AnthropicDialect().stream(body(stream=True))
    (event,) = stream.feed("data: " + json.dumps(anthropic_error("overloaded_error", "Overloaded")))
    assert event["error"]["message"] == "overloaded_error: Overloaded"


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (529, "overloaded_error", 503),
        (429, "rate_limit_error", 429),
        (400, "invalid_request_error", 400),
        (401, "authentication_error", 401),
        (403, "permission_error", 403),
        (404, "not_found_error", 404),
        (402, "billing_error", 402),
        (504, "timeout_error", 504),
        (500, "api_error", 500),
    ],
)
def test_errors_map_to_openai_statuses_and_shape(status: int, kind: str, expected: int) -> None:
    error = anthropic_error(kind, "details here")
    answer = HttpAnswer(status, {"retry-after": "7"}, json.dumps(error).encode())
    translated = AnthropicDialect().error(answer)
    assert translated.status == expected and translated.headers["retry-after"] == "7"
    assert json.loads(translated.content)["error"]["message"].startswith(f"{kind}: details here")


def test_cache_reads_and_writes_and_thinking_are_recorded_on_the_call() -> None:
    usage = usage_of(
        {
            "input_tokens": 11,
            "output_tokens": 9,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "output_tokens_details": {"thinking_tokens": 4},
        }
    )
    details = {k: v for k, v in usage.items() if k.endswith("_details")}
    recorded = recorded_usage(Usage(usage["prompt_tokens"], usage["completion_tokens"], details=details))
    assert (recorded.prompt_tokens, recorded.cached_prompt_tokens, recorded.cache_write_tokens) == (131, 100, 20)
    assert (recorded.completion_tokens, recorded.reasoning_tokens) == (9, 4)
