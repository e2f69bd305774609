"""``POST /v1/messages`` through the official ``anthropic`` SDK (async client over the app in process, fake
backends): answers, system prompts, streaming, recording, errors in Anthropic's shape.

Tool use and images through a real OpenAI-compatible upstream are in
``tests/integration/inference/test_gateway_anthropic_sdk.py``; the translation's details in
``test_anthropic_translation.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from llmops_inference.anthropic_front.models import MessagesRequest
from llmops_inference.anthropic_front.requests import to_chat_request
from llmops_inference.anthropic_front.stream import anthropic_events
from llmops_inference.api_models import ChatCompletionRequest
from llmops_inference.config import InferenceSettings
from llmops_inference.domain import GenerationRequest, UpstreamError, Usage
from llmops_inference.ports import CallContext, ExperimentPlan
from llmops_schemas.v1.calls import ExperimentRef

from tests.unit.inference.support import KEYS, Harness, SoloBudgetSpent

KEY = KEYS["writer"][0]
HELLO = [{"role": "user", "content": "Hello?"}]
TEXT_WITH_CITATIONS = {"type": "text", "text": "x", "citations": []}
BMP = {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "Qk0="}}


def sdk(gw: Harness, key: str = KEY, **headers: str) -> anthropic.AsyncAnthropic:
    # The SDK speaks through httpx2 (its fork of httpx), which runs an ASGI app in process the same way.
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gw.app), base_url="http://gateway")
    return anthropic.AsyncAnthropic(
        api_key=key, base_url="http://gateway", http_client=client, max_retries=0, default_headers=headers
    )


def sent(gw: Harness, upstream: str = "primary") -> GenerationRequest:
    request = gw.backends[upstream].requests[-1][0]
    assert isinstance(request, GenerationRequest)
    return request


async def test_a_message_is_answered_in_anthropic_shape_and_recorded_like_a_chat(gw: Harness) -> None:
    message = await sdk(gw, **{"X-LLMOps-App": "claude-app"}).messages.create(
        model="gpt-test",
        max_tokens=64,
        messages=HELLO,
        stop_sequences=["END"],
        metadata={"user_id": "user-7"},
        extra_body={"temperature": 0.3, "top_p": 0.9},  # this SDK version no longer has them as arguments
    )
    assert message.id.startswith("msg-") and message.type == "message" and message.role == "assistant"
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", "Hello from the fake backend.")]
    assert (message.model, message.stop_reason, message.stop_sequence) == ("gpt-test", "end_turn", None)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (5, 7)
    params = sent(gw).params
    assert (params.max_tokens, params.temperature, params.top_p, params.stop) == (64, 0.3, 0.9, ("END",))
    (event,) = await gw.events()
    assert (event.call_id, event.status, event.model, event.provider, event.app) == (
        message.id,
        "ok",
        "gpt-test",
        "primary",
        "claude-app",
    )
    assert event.user_id == "user-7" and event.metadata["endpoint"] == "messages"
    assert event.choices[0].output == "Hello from the fake backend." and event.usage.total_tokens == 12
    assert (event.parameters.temperature, event.parameters.max_tokens) == (0.3, 64)


async def test_the_system_prompt_is_the_first_message(gw: Harness) -> None:
    client = sdk(gw)
    await client.messages.create(model="gpt-test", max_tokens=8, system="Be brief.", messages=HELLO)
    assert sent(gw).messages[:2] == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello?"},
    )
    blocks = [
        {"type": "text", "text": "Be"},
        {"type": "text", "text": " brief.", "cache_control": {"type": "ephemeral"}},
    ]
    await client.messages.create(model="gpt-test", max_tokens=8, system=blocks, messages=HELLO)  # type: ignore[arg-type]
    assert sent(gw).messages[0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Be"}, {"type": "text", "text": " brief."}],
    }
    recorded = (await gw.events())[-1]
    assert recorded.messages[0].role == "system"


async def test_the_stream_helper_reassembles_the_text_and_the_call_is_recorded_once(gw: Harness) -> None:
    async with sdk(gw).messages.stream(model="gpt-test", max_tokens=32, messages=HELLO) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) == 3 and "".join(pieces) == "Hello from the fake backend."
    assert final.stop_reason == "end_turn" and (final.usage.input_tokens, final.usage.output_tokens) == (5, 7)
    (event,) = await gw.events()
    assert (event.call_id, event.choices[0].output, event.status) == (final.id, "Hello from the fake backend.", "ok")
    assert event.time_to_first_token_ms is not None and event.metadata["endpoint"] == "messages"


async def test_the_stream_is_anthropics_event_sequence(gw: Harness) -> None:
    body = {"model": "gpt-test", "max_tokens": 16, "messages": HELLO, "stream": True}
    response = await gw.client.post("/v1/messages", json=body, headers={"x-api-key": KEY})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    names = [block.split("\n")[0].removeprefix("event: ") for block in response.text.split("\n\n") if block]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "[DONE]" not in response.text


async def test_max_tokens_and_a_length_stop(gw: Harness) -> None:
    gw.backends["primary"].finish_reason = "length"
    message = await sdk(gw).messages.create(model="gpt-test", max_tokens=3, messages=HELLO)
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
async def test_both_key_headers_authenticate(gw: Harness, header: str) -> None:
    value = KEY if header == "x-api-key" else f"Bearer {KEY}"
    body = {"model": "gpt-test", "max_tokens": 8, "messages": HELLO}
    response = await gw.client.post("/v1/messages", json=body, headers={header: value})
    assert response.status_code == 200, response.text


async def test_a_bad_key_is_anthropics_401(gw: Harness) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await sdk(gw, key="llmops_not_a_key_0000000000").messages.create(model="gpt-test", max_tokens=8, messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": caught.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert await gw.events() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "gpt-test", "messages": HELLO}, "max_tokens: Field required"),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": HELLO, "thinking": {"type": "enabled"}},
            "'thinking' is not supported by this gateway's /v1/messages (model 'gpt-test')",
        ),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": HELLO, "temperature": 1.5},
            "temperature: Input should be less than or equal to 1",
        ),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "document"}]}]},
            "messages.0.content: content block type 'document' (documents) is not supported by this gateway",
        ),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": HELLO, "tools": [{"type": "web_search_20250305"}]},
            "tools: tool type 'web_search_20250305' (a server tool) is not supported by this gateway",
        ),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": HELLO, "tool_choice": {"type": "tool"}},
            "tool_choice.name: required when tool_choice.type is 'tool'",
        ),
        ({"model": "gpt-test", "max_tokens": 8}, "messages: at least one message is required"),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": [{"role": "user", "content": [TEXT_WITH_CITATIONS]}]},
            "'messages.0.content.0.citations' is not supported by this gateway's /v1/messages (model 'gpt-test')",
        ),
        (
            {"model": "gpt-test", "max_tokens": 8, "messages": [{"role": "user", "content": [BMP]}]},
            "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
            "'image/webp'",
        ),
        (
            {"model": "gpt-test", "max_tokens": 8, "system": [{"type": "text", "text": 5}], "messages": HELLO},
            "system.0.text: Input should be a valid string",
        ),
    ],
)
async def test_a_bad_body_is_a_400_with_a_precise_message(gw: Harness, body: dict[str, Any], message: str) -> None:
    response = await gw.client.post("/v1/messages", json=body, headers={"x-api-key": KEY})
    assert response.status_code == 400
    assert response.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


async def test_the_sdk_raises_its_bad_request_error_naming_the_field(gw: Harness) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await sdk(gw).messages.create(
            model="gpt-test", max_tokens=8, messages=HELLO, thinking={"type": "enabled", "budget_tokens": 1024}
        )
    assert caught.value.body["error"]["message"] == (  # type: ignore[index]
        "'thinking' is not supported by this gateway's /v1/messages (model 'gpt-test')"
    )


async def test_malformed_json_is_a_400(gw: Harness) -> None:
    response = await gw.client.post("/v1/messages", content=b"{", headers={"x-api-key": KEY})
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "the request body is not valid JSON"},
    }


async def test_an_unknown_model_is_a_404_not_found_error(gw: Harness) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await sdk(gw).messages.create(model="no-such-model", max_tokens=8, messages=HELLO)
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


async def test_the_rate_limit_is_a_429_rate_limit_error_with_retry_after(make_harness: Callable[..., Any]) -> None:
    async with make_harness(InferenceSettings(requests_per_minute=1, replay_interval_s=0.05)) as gw:
        client = sdk(gw)
        await client.messages.create(model="gpt-test", max_tokens=8, messages=HELLO)
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model="gpt-test", max_tokens=8, messages=HELLO)
        assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
        assert int(caught.value.response.headers["retry-after"]) >= 1
        refused = (await gw.events())[-1]
        assert refused.status == "error" and refused.metadata["http_status"] == "429"


async def test_an_oversized_body_is_a_413_request_too_large(make_harness: Callable[..., Any]) -> None:
    async with make_harness(InferenceSettings(max_body_bytes=1024, replay_interval_s=0.05)) as gw:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await sdk(gw).messages.create(
                model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "x" * 2000}]
            )
        assert caught.value.status_code == 413
        assert caught.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]


async def test_upstream_failures_get_anthropics_statuses(gw: Harness) -> None:
    gw.backends["primary"].failures = [UpstreamError("status", "boom", status=500)]
    gw.backends["secondary"].failures = [UpstreamError("status", "boom", status=500)]
    with pytest.raises(anthropic.InternalServerError) as failed:
        await sdk(gw).messages.create(model="gpt-test", max_tokens=8, messages=HELLO)
    assert (failed.value.status_code, failed.value.body["error"]["type"]) == (500, "api_error")  # type: ignore[index]
    gw.backends["primary"].failures = [UpstreamError("connect", "refused")] * 5
    with pytest.raises(anthropic.APIStatusError) as unavailable:
        await sdk(gw).messages.create(model="solo", max_tokens=8, messages=HELLO)
    assert (unavailable.value.status_code, unavailable.value.body["error"]["type"]) == (529, "overloaded_error")  # type: ignore[index]


async def test_a_failure_mid_stream_is_an_error_event_the_sdk_raises(gw: Harness) -> None:
    gw.backends["primary"].stream_failure = UpstreamError("protocol", "the upstream sent nonsense")
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with sdk(gw).messages.stream(model="solo", max_tokens=8, messages=HELLO) as stream:
            async for _ in stream:
                pass
    assert "the upstream sent nonsense" in str(caught.value)
    (event,) = await gw.events()
    assert event.status == "error" and event.error.message == "the upstream sent nonsense"


async def test_a_client_gone_mid_stream_is_recorded_as_closed(gw: Harness) -> None:
    request = MessagesRequest.model_validate({"model": "gpt-test", "max_tokens": 16, "messages": HELLO, "stream": True})
    context = CallContext(tenant_id="acme", key_id="writer-key", app="a", endpoint="messages", call_id="msg-gone")
    answer = await gw.wiring.gateway.chat(to_chat_request(request).request, context)
    assert not isinstance(answer, dict)
    events = anthropic_events(answer, [])
    assert (await anext(events)).startswith(b"event: message_start\n")
    await events.aclose()  # what the server does when the client goes away
    (event,) = await gw.events()
    assert (event.call_id, event.status, event.error.type) == ("msg-gone", "error", "client_closed")


async def test_a_method_the_route_does_not_allow_is_answered_in_anthropics_shape(gw: Harness) -> None:
    response = await gw.client.get("/v1/messages", headers={"x-api-key": KEY})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "Method Not Allowed"},
    }
    other = await gw.client.get("/v1/chat/completions", headers={"x-api-key": KEY})
    assert set(other.json()) == {"error"}  # the OpenAI routes keep OpenAI's shape


class _BrokenChooser:
    async def choose(self, request: Any, context: CallContext) -> Any:
        raise RuntimeError(f"choose failed for {request.messages[0].text()!r}")


async def test_an_unhandled_error_is_anthropics_500_logged_without_its_message(
    make_harness: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with make_harness(chooser=_BrokenChooser()) as gw:
        transport = httpx.ASGITransport(app=gw.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            with caplog.at_level(logging.ERROR):
                body = {"model": "gpt-test", "max_tokens": 8, "messages": [{"role": "user", "content": "private"}]}
                response = await client.post("/v1/messages", json=body, headers={"x-api-key": KEY})
    assert response.status_code == 500
    assert response.json() == {
        "type": "error",
        "error": {"type": "api_error", "message": "an unexpected error occurred"},
    }
    assert [r.getMessage() for r in caplog.records if "unhandled" in r.getMessage()] == [
        "unhandled error: builtins.RuntimeError"
    ]
    assert "private" not in caplog.text


async def test_the_budget_refuses_and_charges_as_on_chat(make_harness: Callable[..., Any]) -> None:
    budget = SoloBudgetSpent()
    async with make_harness(budget=budget) as gw:
        with pytest.raises(anthropic.RateLimitError) as caught:
            await sdk(gw).messages.create(model="solo", max_tokens=8, messages=HELLO)
        assert caught.value.body["error"] == {"type": "rate_limit_error", "message": "monthly budget spent"}  # type: ignore[index]
        assert caught.value.response.headers["retry-after"] == "3600"
        await sdk(gw).messages.create(model="gpt-test", max_tokens=8, messages=HELLO)
        await gw.events()
        assert Usage(5, 7) in budget.charged


class _Arm:
    """Sends every call to the ``solo`` arm of experiment ``exp-1``."""

    async def choose(self, request: ChatCompletionRequest, context: CallContext) -> ExperimentPlan:
        arm = ExperimentRef(experiment_id="exp-1", variant="solo-arm")
        return ExperimentPlan(request=request.model_copy(update={"model": "solo"}), experiment=arm)


async def test_an_experiment_arm_routes_and_is_recorded(make_harness: Callable[..., Any]) -> None:
    async with make_harness(chooser=_Arm()) as gw:
        message = await sdk(gw).messages.create(model="gpt-test", max_tokens=8, messages=HELLO)
        (event,) = await gw.events()
    assert message.model == "solo" and gw.backends["primary"].requests[-1][1].model == "solo-up"
    assert event.experiment is not None and (event.experiment.experiment_id, event.experiment.variant) == (
        "exp-1",
        "solo-arm",
    )


async def test_a_registered_prompt_renders_the_messages(chain_gw: Harness) -> None:
    prompt = {"name": "summarise", "label": "production", "variables": {"ticket": "parcel late"}}
    message = await sdk(chain_gw).messages.create(
        model="gpt-test", max_tokens=32, messages=[], extra_body={"prompt": prompt}
    )
    assert message.content[0].text == "[Summarise: parcel late]"  # type: ignore[union-attr]
    recorded = (await chain_gw.events())[-1]
    assert recorded.prompt is not None and recorded.prompt.name == "summarise"


async def test_a_tool_result_answering_no_tool_use_is_refused_naming_the_callers_block(gw: Harness) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu-9", "content": "18C"}
    body = {"model": "gpt-test", "max_tokens": 8, "system": "s", "messages": [{"role": "user", "content": [result]}]}
    response = await gw.client.post("/v1/messages", json=body, headers={"x-api-key": KEY})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "'toolu-9'" in message and message.endswith(
        "(messages.1 of the translated chat request is messages.0.content.0)"
    )


async def test_a_stream_that_cannot_start_is_an_error_status_not_an_event(gw: Harness) -> None:
    gw.backends["primary"].failures = [UpstreamError("timeout", "slow")] * 5
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with sdk(gw).messages.stream(model="solo", max_tokens=8, messages=HELLO) as stream:
            await stream.get_final_message()
    assert (caught.value.status_code, caught.value.body["error"]["type"]) == (504, "timeout_error")  # type: ignore[index]
    (event,) = await gw.events()
    assert event.status == "error" and event.metadata["http_status"] == "504"
