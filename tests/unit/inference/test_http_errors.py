"""Every error the gateway answers is OpenAI-shaped, with OpenAI's status codes; refused calls are recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llmops_inference.api_models import ChatCompletionRequest
from llmops_inference.config import InferenceSettings
from llmops_inference.domain import UpstreamError, Usage
from llmops_inference.ports import CallContext, ExperimentPlan

from tests.unit.inference.support import Harness, SoloBudgetSpent, assert_openai_error, chat


async def test_a_chat_completion_answers_openai_json_and_is_recorded(gw: Harness, auth: dict[str, str]) -> None:
    response = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-test"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello from the fake backend.",
        "refusal": None,
    }
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    (event,) = await gw.events()
    assert event.call_id == body["id"]
    assert (event.status, event.model, event.provider, event.output) == (
        "ok",
        "gpt-test",
        "primary",
        body["choices"][0]["message"]["content"],
    )
    assert event.usage.total_tokens == 12
    assert event.metadata["upstream_model"] == "gpt-up"
    assert gw.publisher.events[0].tenant_id == "acme"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "invalid_api_key"),
        ({"Authorization": "Bearer llmops_not_a_key_at_all_000000000"}, 401, "invalid_api_key"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, 401, "invalid_api_key"),
    ],
)
async def test_missing_or_unknown_keys_are_401(gw: Harness, headers: dict[str, str], status: int, code: str) -> None:
    response = await gw.client.post("/v1/chat/completions", json=chat(), headers=headers)
    error = assert_openai_error(response, status, code=code)
    assert error["type"] == "authentication_error"
    assert await gw.events() == []


async def test_a_role_without_inference_invoke_is_403(gw: Harness, keys: dict[str, str]) -> None:
    response = await gw.client.post(
        "/v1/chat/completions", json=chat(), headers={"Authorization": f"Bearer {keys['reader']}"}
    )
    assert assert_openai_error(response, 403)["type"] == "permission_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (chat(temperature=2.5), "temperature"),
        (chat(top_p=0), "top_p"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(n=0), "n"),
        (chat(stop=["a"] * 17), "stop"),
        (chat(seed=2**63), "seed"),
        # JSON booleans are not numbers: OpenAI refuses them, and lax coercion would turn `false` into seed 0.
        (chat(seed=False), "seed"),
        (chat(temperature=True), "temperature"),
        (chat(max_tokens=True), "max_tokens"),
        (chat(presence_penalty=False), "presence_penalty"),
        # Numbers are not JSON booleans either (schemathesis sent `include_usage: 0` and it was accepted).
        (chat(stream=0), "stream"),
        (chat(stream=True, stream_options={"include_usage": 0}), "stream_options.include_usage"),
        (chat(stream=True, stream_options={"include_usage": "true"}), "stream_options.include_usage"),
        ({"model": "gpt-test", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"model": "gpt-test", "messages": "hello"}, "messages"),
        (
            {"model": "gpt-test", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages.0.content",
        ),
    ],
)
async def test_invalid_parameters_are_400_naming_the_parameter(
    gw: Harness, auth: dict[str, str], body: dict[str, Any], param: str
) -> None:
    response = await gw.client.post("/v1/chat/completions", json=body, headers=auth)
    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_no_messages_is_400(gw: Harness, auth: dict[str, str]) -> None:
    response = await gw.client.post("/v1/chat/completions", json={"model": "gpt-test", "messages": []}, headers=auth)
    assert assert_openai_error(response, 400)["param"] == "messages"


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b'"just a string"'])
async def test_a_body_that_is_not_a_json_object_is_400(gw: Harness, auth: dict[str, str], content: bytes) -> None:
    response = await gw.client.post(
        "/v1/chat/completions", content=content, headers={**auth, "content-type": "application/json"}
    )
    assert_openai_error(response, 400)


@pytest.mark.parametrize(
    ("extra", "param", "named"),
    [
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio", "'audio'"),
        ({"modalities": ["text", "audio"]}, "modalities", "'modalities'"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA=="}}]}]},
            "messages.0.content.0.type",
            "'input_audio'",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]},
            "messages.0.content.0.type",
            "'file'",
        ),
    ],
)
async def test_audio_and_files_are_refused_naming_them(
    gw: Harness, auth: dict[str, str], extra: dict[str, Any], param: str, named: str
) -> None:
    response = await gw.client.post("/v1/chat/completions", json={**chat(), **extra}, headers=auth)
    error = assert_openai_error(response, 400)
    assert (error["param"], error["code"]) == (param, error["code"])
    assert error["code"] in {"unsupported_parameter", "unsupported_content_type"}
    assert named in error["message"] and "not supported" in error["message"]
    assert gw.backends["primary"].requests == []


async def test_a_body_over_the_limit_is_413(make_harness: Callable[..., Any], auth: dict[str, str]) -> None:
    async with make_harness(InferenceSettings(max_body_bytes=2048)) as gw:
        response = await gw.client.post("/v1/chat/completions", json=chat(content="x" * 4000), headers=auth)
        assert_openai_error(response, 413, code="request_too_large")


async def test_a_prompt_over_the_limit_is_413(make_harness: Callable[..., Any], auth: dict[str, str]) -> None:
    async with make_harness(InferenceSettings(max_prompt_chars=100)) as gw:
        response = await gw.client.post("/v1/chat/completions", json=chat(content="y" * 101), headers=auth)
        assert_openai_error(response, 413, code="prompt_too_large")
        response = await gw.client.post("/v1/embeddings", json={"model": "gpt-test", "input": "z" * 101}, headers=auth)
        assert_openai_error(response, 413, code="prompt_too_large")


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_max_tokens_over_the_limit_is_400(
    make_harness: Callable[..., Any], auth: dict[str, str], field: str
) -> None:
    async with make_harness(InferenceSettings(max_tokens_limit=100)) as gw:
        response = await gw.client.post("/v1/chat/completions", json=chat(**{field: 101}), headers=auth)
        assert assert_openai_error(response, 400, code="max_tokens_exceeded")["param"] == "max_tokens"
        ok = await gw.client.post("/v1/chat/completions", json=chat(**{field: 100}), headers=auth)
        assert ok.status_code == 200
        assert gw.backends["primary"].requests[-1][0].params.max_tokens == 100


async def test_an_unknown_model_is_404_and_recorded(gw: Harness, auth: dict[str, str]) -> None:
    response = await gw.client.post("/v1/chat/completions", json=chat(model="gpt-nope"), headers=auth)
    error = assert_openai_error(response, 404, code="model_not_found")
    assert error["param"] == "model"
    (event,) = await gw.events()
    assert (event.status, event.error.code, event.metadata["http_status"]) == ("error", "model_not_found", "404")
    metrics = (await gw.client.get("/metrics")).text
    assert 'model="gpt-nope"' not in metrics  # unknown names share one label value
    assert 'llmops_inference_calls_total{endpoint="chat",model="unknown",status="error"}' in metrics


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (UpstreamError("status", "boom", status=500), 502, "bad_gateway"),
        (UpstreamError("status", "bad gateway", status=502), 502, "bad_gateway"),
        (UpstreamError("timeout", "slow"), 504, "upstream_timeout"),
        (UpstreamError("connect", "refused"), 503, "upstream_unavailable"),
        (UpstreamError("protocol", "garbage"), 502, "bad_gateway"),
    ],
)
async def test_upstream_failures_map_to_5xx_and_are_recorded(
    gw: Harness, auth: dict[str, str], failure: UpstreamError, status: int, code: str
) -> None:
    gw.backends["primary"].failures = [failure] * 10
    response = await gw.client.post("/v1/chat/completions", json=chat(model="solo"), headers=auth)
    error = assert_openai_error(response, status, code=code)
    assert error["type"] == "server_error"
    (event,) = await gw.events()
    assert event.status == "error" and event.error.code == code


async def test_an_upstream_400_is_passed_on_without_fallback(gw: Harness, auth: dict[str, str]) -> None:
    gw.backends["primary"].failures = [UpstreamError("status", "upstream says: bad stop", status=400)]
    response = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
    assert "bad stop" in assert_openai_error(response, 400, code="upstream_rejected")["message"]
    assert gw.backends["secondary"].requests == []


async def test_an_upstream_429_is_429_with_retry_after(gw: Harness, auth: dict[str, str]) -> None:
    gw.backends["primary"].failures = [UpstreamError("status", "slow down", status=429, retry_after=7)] * 5
    response = await gw.client.post("/v1/chat/completions", json=chat(model="solo"), headers=auth)
    assert_openai_error(response, 429, code="rate_limit_exceeded")
    assert response.headers["retry-after"] == "7"


async def test_requests_per_minute_are_limited_per_key_with_retry_after(
    make_harness: Callable[..., Any], auth: dict[str, str], keys: dict[str, str]
) -> None:
    async with make_harness(InferenceSettings(requests_per_minute=2)) as gw:
        for _ in range(2):
            assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)).status_code == 200
        gw.clock.advance(15)
        limited = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
        error = assert_openai_error(limited, 429, code="rate_limit_exceeded")
        assert error["type"] == "requests"
        assert limited.headers["retry-after"] == "45"
        other = await gw.client.post(
            "/v1/chat/completions", json=chat(), headers={"Authorization": f"Bearer {keys['other']}"}
        )
        assert other.status_code == 200  # another key has its own window
        gw.clock.advance(46)
        assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)).status_code == 200
        events = await gw.events()
        assert [e.status for e in events].count("error") == 1


async def test_a_service_key_s_window_is_per_tenant_it_acts_for(
    make_harness: Callable[..., Any], keys: dict[str, str]
) -> None:
    service = {"Authorization": f"Bearer {keys['service']}"}
    async with make_harness(InferenceSettings(requests_per_minute=1)) as gw:
        acme, beta = {**service, "X-LLMOps-Tenant": "acme"}, {**service, "X-LLMOps-Tenant": "beta"}
        assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=acme)).status_code == 200
        limited = await gw.client.post("/v1/chat/completions", json=chat(), headers=acme)
        assert_openai_error(limited, 429, code="rate_limit_exceeded")
        # One tenant's evaluation run does not use up the platform's calls for another tenant.
        assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=beta)).status_code == 200


async def test_tokens_per_minute_are_limited_with_retry_after(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    async with make_harness(InferenceSettings(tokens_per_minute=1000)) as gw:
        first = await gw.client.post("/v1/chat/completions", json=chat(max_tokens=900), headers=auth)
        assert first.status_code == 200  # settled to its real usage: 12 tokens
        second = await gw.client.post("/v1/chat/completions", json=chat(max_tokens=900), headers=auth)
        assert second.status_code == 200
        third = await gw.client.post("/v1/chat/completions", json=chat(max_tokens=990), headers=auth)
        error = assert_openai_error(third, 429, code="rate_limit_exceeded")
        assert error["type"] == "tokens"
        assert int(third.headers["retry-after"]) >= 1


async def test_the_budget_guard_can_refuse_and_is_charged(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    budget = SoloBudgetSpent()
    async with make_harness(budget=budget) as gw:
        refused = await gw.client.post("/v1/chat/completions", json=chat(model="solo"), headers=auth)
        error = assert_openai_error(refused, 429, code="budget_exceeded")
        assert error["type"] == "insufficient_quota"
        assert refused.headers["retry-after"] == "3600"
        assert (await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)).status_code == 200
        await gw.events()
        assert Usage(5, 7) in budget.charged


class _BrokenChooser:
    """A seam with a bug whose exception quotes the request, as a client library's often does."""

    async def choose(self, request: ChatCompletionRequest, context: CallContext) -> ExperimentPlan:
        raise RuntimeError(f"choose failed for {request.messages[0].text()!r} with {UNHANDLED_SECRET}")


UNHANDLED_SECRET = "sk-live-0123456789abcdef"
UNHANDLED_PROMPT = "my private question about parcel 42"


async def test_an_unhandled_error_is_a_500_logged_without_its_message(
    make_harness: Callable[..., Any], auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with make_harness(chooser=_BrokenChooser()) as gw:
        transport = httpx.ASGITransport(app=gw.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            with caplog.at_level(logging.ERROR):
                response = await client.post("/v1/chat/completions", json=chat(content=UNHANDLED_PROMPT), headers=auth)

    error = assert_openai_error(response, 500)
    assert (error["type"], error["message"]) == ("server_error", "an unexpected error occurred")
    (record,) = [r for r in caplog.records if r.name == "llmops_inference.errors"]
    assert record.getMessage() == "unhandled error: builtins.RuntimeError"
    assert record.exc_info is None, "the exception (and so its message) is not attached"
    traceback = record.traceback  # type: ignore[attr-defined]
    assert "test_http_errors.py" in traceback and traceback.endswith("builtins.RuntimeError")
    for text in (record.getMessage(), traceback, caplog.text):
        assert UNHANDLED_SECRET not in text and UNHANDLED_PROMPT not in text


async def test_an_answer_without_usage_is_charged_an_estimate_not_nothing(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    async with make_harness(InferenceSettings(tokens_per_minute=150)) as gw:
        primary = gw.backends["primary"]
        primary.usage, primary.reply = None, "x" * 200  # the upstream reports no usage
        first = await gw.client.post("/v1/chat/completions", json=chat(max_tokens=100), headers=auth)
        assert first.status_code == 200, first.text
        # Charged about 2 + 50 tokens (prompt and answer), so another 102-token reservation no longer fits.
        second = await gw.client.post("/v1/chat/completions", json=chat(max_tokens=100), headers=auth)
        assert_openai_error(second, 429, code="rate_limit_exceeded")


async def test_a_stream_closed_early_is_charged_the_prompt_and_what_was_streamed(
    make_harness: Callable[..., Any], auth: dict[str, str]
) -> None:
    async with make_harness(InferenceSettings(tokens_per_minute=150)) as gw:
        primary = gw.backends["primary"]
        primary.usage, primary.reply, primary.chunks = None, "x" * 400, 10  # 40 characters a chunk
        request = ChatCompletionRequest.model_validate(chat(max_tokens=100, stream=True))
        context = CallContext(tenant_id="acme", key_id="writer-key", app="a", endpoint="chat", call_id="chatcmpl-cut")
        answer = await gw.wiring.gateway.chat(request, context)
        assert not isinstance(answer, dict)
        for _ in range(6):  # the role chunk, then 5 pieces: 200 characters, about 50 tokens
            await anext(answer)
        await answer.aclose()  # the client went away: the upstream never sent its usage
        (event,) = await gw.events()
        assert event.error.type == "client_closed" and event.usage is None
        refused = await gw.client.post("/v1/chat/completions", json=chat(max_tokens=100), headers=auth)
        assert_openai_error(refused, 429, code="rate_limit_exceeded")
