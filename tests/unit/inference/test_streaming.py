"""Streaming: OpenAI's SSE framing, the usage chunk, escaping of hostile content, failures mid-stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmops_inference.domain import UpstreamError, Usage
from llmops_inference.streaming import sse

from tests.unit.inference.support import Harness, assert_openai_error, chat


def events_of(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, checking the framing on the way."""
    assert text.endswith("data: [DONE]\n\n")
    blocks = text.split("\n\n")
    assert blocks[-1] == ""
    payloads = []
    for block in blocks[:-1]:
        assert block.startswith("data: ") and "\n" not in block and "\r" not in block, block
        payloads.append(block.removeprefix("data: "))
    assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1
    return payloads[:-1]


async def stream(
    gw: Harness, auth: dict[str, str], path: str = "/v1/chat/completions", **body: Any
) -> list[dict[str, Any]]:
    payload = {**chat(), "stream": True, **body}
    response = await gw.client.post(path, json=payload, headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return [json.loads(p) for p in events_of(response.text)]


async def test_a_chat_stream_is_role_then_content_then_finish_then_done(gw: Harness, auth: dict[str, str]) -> None:
    chunks = await stream(gw, auth)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Hello from the fake backend."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)  # without include_usage there is no usage field at all
    (event,) = await gw.events()
    assert (event.call_id, event.output, event.status) == (chunks[0]["id"], text, "ok")
    assert event.time_to_first_token_ms is not None and event.time_to_first_token_ms <= event.latency_ms


async def test_include_usage_adds_a_last_chunk_with_usage_and_null_usage_before(
    gw: Harness, auth: dict[str, str]
) -> None:
    chunks = await stream(gw, auth, stream_options={"include_usage": True})
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


async def test_a_text_completion_streams_text_completion_objects(gw: Harness, auth: dict[str, str]) -> None:
    chunks = await stream(gw, auth, "/v1/completions", prompt="Once upon", messages=None)
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert chunks[0]["id"].startswith("cmpl-")
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Hello from the fake backend."


@pytest.mark.parametrize(
    "hostile",
    [
        "line one\n\ndata: [DONE]\n\n",
        'carriage\rreturn\r\ndata: {"fake": true}',
        "unicode separators \u2028 and \u2029 and \x85 next line",
        'quotes " and backslashes \\ and data: inside',
    ],
)
async def test_content_that_looks_like_sse_cannot_break_the_framing(
    gw: Harness, auth: dict[str, str], hostile: str
) -> None:
    gw.backends["primary"].reply = hostile
    chunks = await stream(gw, auth)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == hostile


def test_an_sse_event_is_one_ascii_line() -> None:
    frame = sse({"content": "a\nb\rc\u2028d\U0001f600"})
    assert frame.endswith(b"\n\n") and frame.count(b"\n") == 2 and b"\r" not in frame
    assert frame.isascii()
    assert json.loads(frame[6:]) == {"content": "a\nb\rc\u2028d\U0001f600"}


async def test_failures_before_the_first_byte_fall_back_and_the_client_sees_a_clean_stream(
    gw: Harness, auth: dict[str, str]
) -> None:
    gw.backends["primary"].failures = [UpstreamError("connect", "refused")] * 3
    gw.backends["secondary"].reply = "from the fallback"
    chunks = await stream(gw, auth)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "from the fallback"
    (event,) = await gw.events()
    assert event.provider == "secondary" and event.metadata["attempts"] == "4"


async def test_a_stream_that_cannot_start_is_an_http_error_not_an_sse_body(gw: Harness, auth: dict[str, str]) -> None:
    gw.backends["primary"].failures = [UpstreamError("timeout", "slow")] * 5
    response = await gw.client.post("/v1/chat/completions", json={**chat(model="solo"), "stream": True}, headers=auth)
    assert_openai_error(response, 504, code="upstream_timeout")
    (event,) = await gw.events()
    assert event.status == "error"


async def test_a_failure_mid_stream_ends_with_an_error_event_and_done_and_is_recorded(
    gw: Harness, auth: dict[str, str]
) -> None:
    gw.backends["primary"].stream_failure = UpstreamError("protocol", "connection reset mid-stream")
    response = await gw.client.post("/v1/chat/completions", json={**chat(model="solo"), "stream": True}, headers=auth)
    assert response.status_code == 200
    payloads = events_of(response.text)
    last = json.loads(payloads[-1])
    assert last["error"]["message"] == "connection reset mid-stream"
    (event,) = await gw.events()
    assert event.status == "error" and event.error.type == "upstream_error"
    assert event.output == "Hello from"  # what the client received before the break


async def test_the_usage_chunk_is_zero_when_the_upstream_reports_none(gw: Harness, auth: dict[str, str]) -> None:
    gw.backends["primary"].usage = None
    chunks = await stream(gw, auth, stream_options={"include_usage": True})
    assert chunks[-1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    (event,) = await gw.events()
    assert event.usage is None


async def test_non_streamed_completions_have_the_text_completion_shape(gw: Harness, auth: dict[str, str]) -> None:
    gw.backends["primary"].usage = Usage(3, 4)
    response = await gw.client.post("/v1/completions", json={"model": "gpt-test", "prompt": ["Say hi"]}, headers=auth)
    body = response.json()
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert body["choices"][0]["text"] == "Hello from the fake backend."
    sent, _ = gw.backends["primary"].requests[-1]
    assert sent.kind == "completion" and sent.prompt == "Say hi"


async def test_a_stream_the_client_abandons_is_recorded_once_as_client_closed(gw: Harness) -> None:
    from llmops_inference.api_models import ChatCompletionRequest
    from llmops_inference.ports import CallContext

    request = ChatCompletionRequest.model_validate({**chat(), "stream": True})
    context = CallContext(tenant_id="acme", key_id="writer-key", app="a", endpoint="chat", call_id="chatcmpl-abandoned")
    answer = await gw.wiring.gateway.chat(request, context)
    assert not isinstance(answer, dict)
    first = await anext(answer)
    assert first.startswith(b"data: ")
    await answer.aclose()  # what the server does when the client goes away
    (event,) = await gw.events()
    assert (event.call_id, event.status, event.error.type) == ("chatcmpl-abandoned", "error", "client_closed")
