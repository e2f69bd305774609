"""The demo upstream `llmops up` routes `demo-tools` to: a scripted tool-calling model, streamed or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from llmops_cli.demo_upstream import MAX_BODY_BYTES, create_app

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
QUESTION = {"role": "user", "content": "What is the weather in Lisbon?"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def chat(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/chat/completions", json={"model": "weather-agent", **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_offered_tools_it_calls_the_first_with_the_questions_last_word(client: TestClient) -> None:
    answer = chat(client, messages=[QUESTION], tools=[WEATHER, CLOCK])
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    # Only required string parameters are filled.
    assert json.loads(call["function"]["arguments"]) == {"city": "Lisbon"}
    # The same question gives the same call id (a deterministic demo).
    assert chat(client, messages=[QUESTION], tools=[WEATHER])["choices"][0]["message"]["tool_calls"][0] == call
    assert answer["usage"]["total_tokens"] == answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"]


def test_tool_choice_forces_the_named_tool_and_none_forbids_tools(client: TestClient) -> None:
    forced = {"type": "function", "function": {"name": "get_time"}}
    answer = chat(client, messages=[QUESTION], tools=[WEATHER, CLOCK], tool_choice=forced)
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_time"
    refused = chat(client, messages=[QUESTION], tools=[WEATHER], tool_choice="none")
    assert refused["choices"][0]["finish_reason"] == "stop"
    assert "tool_calls" not in refused["choices"][0]["message"]


def test_given_the_tools_result_it_answers_with_it(client: TestClient) -> None:
    called = chat(client, messages=[QUESTION], tools=[WEATHER])["choices"][0]["message"]
    result = {"role": "tool", "tool_call_id": called["tool_calls"][0]["id"], "content": "18 degrees in Lisbon"}
    answer = chat(client, messages=[QUESTION, called, result], tools=[WEATHER])
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["content"] == "The tool says: 18 degrees in Lisbon"


def test_without_tools_it_asks_for_one(client: TestClient) -> None:
    answer = chat(client, messages=[QUESTION])
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert "offer me one" in answer["choices"][0]["message"]["content"]


def test_streamed_tool_call_comes_as_openai_chunks_with_usage_when_asked(client: TestClient) -> None:
    body = {"model": "weather-agent", "messages": [QUESTION], "tools": [WEATHER], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line.removeprefix("data: ") for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    delta = chunks[0]["choices"][0]["delta"]
    assert delta["tool_calls"][0]["index"] == 0
    assert json.loads(delta["tool_calls"][0]["function"]["arguments"]) == {"city": "Lisbon"}
    assert chunks[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[2]["choices"] == [] and chunks[2]["usage"]["total_tokens"] > 0


def test_bad_requests_are_refused_before_any_work(client: TestClient) -> None:
    too_big = client.post(
        "/v1/chat/completions", content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413
    assert client.post("/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 422
    assert client.get("/v1/models").json()["data"][0]["id"] == "weather-agent"
