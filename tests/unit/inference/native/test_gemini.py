"""OpenAI <-> Gemini API: requests validated by the SDK's types, answers, streams and errors built from them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import types as genai
from llmops_inference.adapters.http_transport import HttpAnswer
from llmops_inference.adapters.native.common import Unsupported
from llmops_inference.adapters.native.gemini import SKIP_THOUGHT_SIGNATURE, GeminiDialect, to_gemini
from llmops_inference.adapters.native.gemini_answers import from_gemini

from tests.fixtures.provider_answers import gemini_chunks, gemini_error, gemini_json, gemini_response
from tests.fixtures.provider_requests import PNG, WEATHER, gemini_request


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gemini-test", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_a_full_conversation_is_translated_and_valid_for_the_sdk() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this, and the weather?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg?size=2"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    sent = to_gemini(
        body(
            messages=messages,
            temperature=1.5,
            top_p=0.5,
            stop="END",
            seed=3,
            n=2,
            presence_penalty=0.2,
            tools=[WEATHER],
        )
    )
    gemini_request(sent)
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    user, model, result = sent["contents"]
    assert user["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert user["parts"][2] == {
        "fileData": {"fileUri": "https://example.test/cat.jpg?size=2", "mimeType": "image/jpeg"}
    }
    assert model["role"] == "model" and model["parts"][0] == {"text": "Looking."}
    assert model["parts"][1]["functionCall"] == {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}
    assert model["parts"][1]["thoughtSignature"] == SKIP_THOUGHT_SIGNATURE
    # The tool result names its function, found through the call's id.
    assert result["parts"] == [
        {"functionResponse": {"id": "c1", "name": "get_weather", "response": {"result": "sunny"}}}
    ]
    assert sent["generationConfig"] == {
        "maxOutputTokens": 64,
        "temperature": 1.5,
        "topP": 0.5,
        "seed": 3,
        "candidateCount": 2,
        "presencePenalty": 0.2,
        "stopSequences": ["END"],
    }
    declaration = sent["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"] == WEATHER["function"]["parameters"]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}  # strict under auto


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choices(choice: Any, expected: dict[str, Any]) -> None:
    sent = to_gemini(body(tools=[WEATHER], tool_choice=choice))
    assert sent["toolConfig"] == {"functionCallingConfig": expected}
    gemini_request(sent)


@pytest.mark.parametrize(
    ("response_format", "config"),
    [
        ({"type": "json_object"}, {"responseMimeType": "application/json"}),
        (
            {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}},
        ),
    ],
)
def test_json_output(response_format: dict[str, Any], config: dict[str, Any]) -> None:
    sent = to_gemini(body(response_format=response_format, reasoning_effort="low"))
    assert sent["generationConfig"] == {"maxOutputTokens": 64, **config, "thinkingConfig": {"thinkingLevel": "LOW"}}
    gemini_request(sent)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"top_logprobs": 3}, "top_logprobs"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "x", "prompt_cache_breakpoint": {"mode": "explicit"}}],
                    }
                ]
            },
            "messages.0.content.0.prompt_cache_breakpoint",
        ),
        ({"messages": [{"role": "user", "content": "x", "name": "bob"}]}, "messages.0.name"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"parallel_tool_calls": False, "tools": [WEATHER]}, "parallel_tool_calls"),
        ({"reasoning_effort": "none"}, "reasoning_effort"),
        ({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}, "messages.0.tool_call_id"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/img"}}]}
                ]
            },
            "messages.0.content.0",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
            "messages.0.content.0",
        ),
    ],
)
def test_what_gemini_cannot_do_is_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(Unsupported) as refused:
        to_gemini(body(**fields))
    assert refused.value.field == field


def test_fields_the_gateway_records_and_neutral_values_are_accepted() -> None:
    sent = to_gemini(body(user="u1", metadata={"team": "a"}, parallel_tool_calls=False, modalities=["text"]))
    gemini_request(sent)


def test_the_url_names_the_model_and_the_method() -> None:
    dialect = GeminiDialect()
    plain = dialect.call("https://g.test", "chat/completions", body())
    streamed = dialect.call("https://g.test", "chat/completions", body(stream=True))
    assert plain.url == "https://g.test/v1beta/models/gemini-test:generateContent"
    assert streamed.url == "https://g.test/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    assert GeminiDialect("v1").call("https://g.test", "chat/completions", body()).url.startswith("https://g.test/v1/")
    with pytest.raises(Unsupported):
        dialect.call("https://g.test", "embeddings", {"model": "m", "input": ["x"]})


def test_an_answer_with_candidates_tool_calls_and_usage() -> None:
    answer = from_gemini(
        gemini_json(gemini_response("Sure.", calls=(("fc1", "get_weather", {"city": "Oslo"}),), candidates=2)), "g"
    )
    assert [c["index"] for c in answer["choices"]] == [0, 1]
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "Sure."
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    # candidatesTokenCount leaves thoughts out; OpenAI's completion_tokens counts reasoning in.
    assert answer["usage"] == {
        "prompt_tokens": 120,
        "completion_tokens": 12,
        "total_tokens": 132,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }


@pytest.mark.parametrize(
    ("finish", "expected"), [("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter")]
)
def test_finish_reasons(finish: str, expected: str) -> None:
    assert from_gemini(gemini_json(gemini_response(finish=finish)), "g")["choices"][0]["finish_reason"] == expected


def test_logprobs_are_asked_for_and_translated_back() -> None:
    sent = to_gemini(body(logprobs=True, top_logprobs=2))
    assert (sent["generationConfig"]["responseLogprobs"], sent["generationConfig"]["logprobs"]) == (True, 2)
    gemini_request(sent)
    chosen = genai.LogprobsResultCandidate(token="Hi", log_probability=-0.25, token_id=7)
    other = genai.LogprobsResultCandidate(token="Hey", log_probability=-1.5, token_id=8)
    result = genai.LogprobsResult(
        chosen_candidates=[chosen], top_candidates=[genai.LogprobsResultTopCandidates(candidates=[chosen, other])]
    )
    response = gemini_response("Hi")
    candidate = (response.candidates or [])[0].model_copy(update={"logprobs_result": result})
    answer = from_gemini(gemini_json(response.model_copy(update={"candidates": [candidate]})), "g")
    (token,) = answer["choices"][0]["logprobs"]["content"]
    assert (token["token"], token["logprob"], token["bytes"]) == ("Hi", -0.25, [72, 105])
    assert [(t["token"], t["logprob"]) for t in token["top_logprobs"]] == [("Hi", -0.25), ("Hey", -1.5)]


def test_a_blocked_prompt_is_an_empty_filtered_answer() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    answer = from_gemini(blocked, "g")
    assert answer["choices"][0]["finish_reason"] == "content_filter"
    chunks = GeminiDialect().stream(body(stream=True)).feed("data: " + json.dumps(blocked))
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


def test_a_stream_relays_text_and_whole_tool_calls_then_usage() -> None:
    stream = GeminiDialect().stream(body(stream=True, stream_options={"include_usage": True}))
    chunks = []
    for piece in gemini_chunks(gemini_response("One two three", calls=(("fc1", "get_weather", {"city": "Rome"}),))):
        chunks += stream.feed("data: " + json.dumps(gemini_json(piece)))
        chunks += stream.feed("")
    chunks += stream.close()
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "One two three"
    (call,) = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert call["index"] == 0 and json.loads(call["function"]["arguments"]) == {"city": "Rome"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}


@pytest.mark.parametrize(
    ("status", "name", "retry"),
    [
        (429, "RESOURCE_EXHAUSTED", "30"),
        (400, "INVALID_ARGUMENT", None),
        (503, "UNAVAILABLE", None),
        (403, "PERMISSION_DENIED", None),
    ],
)
def test_errors_keep_their_status_and_read_the_retry_delay(status: int, name: str, retry: str | None) -> None:
    error = gemini_error(status, name, "details here", retry_delay_s=30 if retry else None)
    translated = GeminiDialect().error(HttpAnswer(status, {}, json.dumps(error).encode()))
    assert translated.status == status and translated.headers.get("retry-after") == retry
    assert json.loads(translated.content)["error"]["message"] == f"{name}: details here"
