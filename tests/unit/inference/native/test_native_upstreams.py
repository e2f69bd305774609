"""The native upstreams as the gateway runs them: the OpenAI adapter over a translating transport, over the
in-memory transport (the aiohttp one passes the same transport contract). URLs and keys come from the routes
file only; refusals cost no call; provider errors become the UpstreamErrors the router retries and falls back on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from llmops_inference.adapters.http_transport import HttpAnswer, HttpRequest
from llmops_inference.adapters.memory import MockTransport, mock_answer
from llmops_inference.adapters.native import native_upstream
from llmops_inference.adapters.native.transport import NativeTransport
from llmops_inference.adapters.openai_upstream import OpenAIUpstream
from llmops_inference.bootstrap import build_backends
from llmops_inference.domain import GenerationRequest, Params, UpstreamError
from llmops_inference.errors import from_upstream
from llmops_inference.routing_table import RoutingTable, Target, Upstream

from tests.fixtures.provider_answers import (
    anthropic_error,
    anthropic_events,
    anthropic_message,
    anthropic_sse,
    gemini_chunks,
    gemini_error,
    gemini_json,
    gemini_response,
    gemini_sse,
)

KEY = "sk-native-secret-0123456789"
CHAT = GenerationRequest(
    kind="chat",
    params=Params(max_tokens=20, temperature=0.5, stop=("END",)),
    messages=({"role": "user", "content": "hi"},),
)
Handler = Callable[[HttpRequest], HttpAnswer]


async def started(
    kind: str, handler: Handler, monkeypatch: pytest.MonkeyPatch, **upstream: Any
) -> tuple[OpenAIUpstream, list[HttpRequest], Target]:
    monkeypatch.setenv("NATIVE_TEST_KEY", KEY)
    config = Upstream(name=kind, base_url=f"https://{kind}.example.test", api_key_env="NATIVE_TEST_KEY", **upstream)
    transport = MockTransport(handler)
    backend = native_upstream(kind, config, inner=transport)
    await backend.start()
    return backend, transport.requests, Target(backend=kind, upstream=kind, model=f"{kind}-model", timeout_s=5)


async def test_anthropic_is_called_with_its_url_and_headers_and_answers_in_openai_terms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = anthropic_message("Bonjour").model_dump(mode="json")
    backend, seen, target = await started("anthropic", lambda r: mock_answer(200, json_body=answer), monkeypatch)
    generation = await backend.generate(CHAT, target)
    assert (generation.text, generation.finish_reason) == ("Bonjour", "stop")
    assert generation.usage is not None and (generation.usage.prompt_tokens, generation.usage.completion_tokens) == (
        131,
        7,
    )
    (request,) = seen
    assert request.url == "https://anthropic.example.test/v1/messages"
    assert request.headers["x-api-key"] == KEY and request.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in request.headers
    sent = json.loads(request.content)
    assert sent["model"] == "anthropic-model" and sent["stop_sequences"] == ["END"] and sent["max_tokens"] == 20


async def test_anthropic_streams_as_openai_deltas(monkeypatch: pytest.MonkeyPatch) -> None:
    events = anthropic_sse(anthropic_events(anthropic_message("one two three")))
    backend, seen, target = await started("anthropic", lambda r: HttpAnswer(200, {}, events), monkeypatch)
    deltas = [d async for d in backend.stream(CHAT, target)]
    assert "".join(d.text for d in deltas) == "one two three"
    assert deltas[-1].usage is not None and deltas[-1].usage.prompt_tokens == 131
    assert any(d.finish_reason == "stop" for d in deltas)
    assert json.loads(seen[0].content)["stream"] is True


async def test_a_field_the_provider_lacks_is_refused_without_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, seen, target = await started("anthropic", lambda r: mock_answer(500), monkeypatch)
    request = GenerationRequest(kind="chat", params=Params(max_tokens=5, seed=7), messages=CHAT.messages)
    with pytest.raises(UpstreamError) as refused:
        await backend.generate(request, target)
    assert (refused.value.status, refused.value.param) == (400, "seed") and not refused.value.falls_back
    assert "'seed' is not supported by model 'anthropic-model' (Anthropic Messages API)" in refused.value.message
    assert seen == []
    with pytest.raises(UpstreamError) as streamed:
        [d async for d in backend.stream(request, target)]
    assert streamed.value.status == 400 and seen == []


async def test_legacy_completions_are_refused_for_translated_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, seen, target = await started("gemini", lambda r: mock_answer(500), monkeypatch)
    with pytest.raises(UpstreamError) as refused:
        await backend.generate(GenerationRequest(kind="completion", params=Params(max_tokens=5), prompt="x"), target)
    assert refused.value.param == "model" and "the /v1/completions endpoint is not supported" in refused.value.message
    assert seen == []


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "retryable", "retry_after"),
    [
        (529, anthropic_error("overloaded_error", "Overloaded"), {}, 503, True, None),
        (429, anthropic_error("rate_limit_error", "slow down"), {"retry-after": "7"}, 429, False, 7.0),
        (400, anthropic_error("invalid_request_error", "bad"), {}, 400, False, None),
        (401, anthropic_error("authentication_error", "invalid x-api-key"), {}, 401, False, None),
    ],
)
async def test_anthropic_errors_become_the_upstream_errors_the_router_knows(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    expected: int,
    retryable: bool,
    retry_after: float | None,
) -> None:
    backend, _, target = await started(
        "anthropic", lambda r: mock_answer(status, json_body=body, headers=headers), monkeypatch
    )
    with pytest.raises(UpstreamError) as failed:
        await backend.generate(CHAT, target)
    error = failed.value
    assert (error.kind, error.status, error.retryable, error.retry_after) == (
        "status",
        expected,
        retryable,
        retry_after,
    )
    assert body["error"]["message"] in error.message and KEY not in error.message


async def test_gemini_is_called_with_its_url_and_key_header(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = gemini_json(gemini_response("Ciao"))
    backend, seen, target = await started("gemini", lambda r: mock_answer(200, json_body=answer), monkeypatch)
    generation = await backend.generate(CHAT, target)
    assert generation.text == "Ciao" and generation.usage is not None and generation.usage.completion_tokens == 12
    (request,) = seen
    assert request.url == "https://gemini.example.test/v1beta/models/gemini-model:generateContent"
    assert request.headers["x-goog-api-key"] == KEY and "Authorization" not in request.headers


async def test_gemini_streams_and_its_rate_limit_carries_the_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = gemini_sse(gemini_chunks(gemini_response("a b c")))
    backend, seen, target = await started("gemini", lambda r: HttpAnswer(200, {}, chunks), monkeypatch)
    assert "".join([d.text async for d in backend.stream(CHAT, target)]) == "a b c"
    assert seen[0].url.endswith(":streamGenerateContent?alt=sse")
    limited = gemini_error(429, "RESOURCE_EXHAUSTED", "quota", retry_delay_s=12)
    backend, _, target = await started("gemini", lambda r: mock_answer(429, json_body=limited), monkeypatch)
    with pytest.raises(UpstreamError) as failed:
        [d async for d in backend.stream(CHAT, target)]
    assert (failed.value.status, failed.value.retry_after) == (429, 12.0)


async def test_azure_calls_the_deployment_with_its_api_version_and_passes_openai_bodies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = {
        "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    backend, seen, target = await started(
        "azure", lambda r: mock_answer(200, json_body=answer), monkeypatch, api_version="2024-10-21"
    )
    assert (await backend.generate(CHAT, target)).text == "hi"
    (request,) = seen
    assert (
        request.url
        == "https://azure.example.test/openai/deployments/azure-model/chat/completions?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == KEY and "Authorization" not in request.headers
    assert json.loads(request.content)["messages"] == [{"role": "user", "content": "hi"}]


async def test_the_probe_uses_the_providers_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, seen, _ = await started(
        "anthropic", lambda r: mock_answer(200, json_body={"data": []}), monkeypatch, health_path="/v1/models"
    )
    assert await backend.probe() is True
    assert seen[0].url == "https://anthropic.example.test/v1/models" and seen[0].headers["x-api-key"] == KEY


def test_the_routes_file_picks_native_backends_and_azure_needs_its_api_version() -> None:
    table = RoutingTable.model_validate(
        {
            "upstreams": [
                {"name": "claude", "base_url": "https://api.anthropic.com", "api_key_env": "ANTHROPIC_API_KEY"},
                {"name": "az", "base_url": "https://r.openai.azure.com", "api_version": "2024-10-21"},
            ],
            "models": {
                "claude": [{"backend": "anthropic", "upstream": "claude", "model": "claude-sonnet-4-5"}],
                "gpt-az": [{"backend": "azure", "upstream": "az", "model": "my-deployment"}],
            },
        }
    )
    backends = build_backends(table)
    assert all(isinstance(b, OpenAIUpstream) and isinstance(b._transport, NativeTransport) for b in backends.values())
    with pytest.raises(ValueError, match="needs its api_version"):
        RoutingTable.model_validate(
            {
                "upstreams": [{"name": "az", "base_url": "https://r.openai.azure.com"}],
                "models": {"m": [{"backend": "azure", "upstream": "az", "model": "d"}]},
            }
        )
    with pytest.raises(ValueError, match="not a anthropic address"):
        RoutingTable.model_validate(
            {
                "upstreams": [{"name": "c", "base_url": "grpc://x:1"}],
                "models": {"m": [{"backend": "anthropic", "upstream": "c", "model": "d"}]},
            }
        )


async def test_an_upstreams_own_unsupported_parameter_400_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    error = {
        "error": {
            "message": "Unsupported parameter: 'temperature'",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "unsupported_parameter",
        }
    }
    backend, _, target = await started(
        "azure", lambda r: mock_answer(400, json_body=error), monkeypatch, api_version="2024-10-21"
    )
    with pytest.raises(UpstreamError) as refused:
        await backend.generate(CHAT, target)
    assert (refused.value.status, refused.value.param) == (400, "temperature")


async def test_an_answer_of_an_unexpected_shape_is_a_protocol_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = {"id": "m", "content": "not a list of blocks", "usage": {}}
    backend, _, target = await started("anthropic", lambda r: mock_answer(200, json_body=odd), monkeypatch)
    with pytest.raises(UpstreamError) as failed:
        await backend.generate(CHAT, target)
    assert failed.value.kind == "protocol" and failed.value.falls_back
    stream = HttpAnswer(200, {}, b'data: {"type": "content_block_delta", "index": 0, "delta": "oops"}\n')
    backend, _, target = await started("anthropic", lambda r: stream, monkeypatch)
    with pytest.raises(UpstreamError) as broken:
        [d async for d in backend.stream(CHAT, target)]
    assert broken.value.kind == "protocol"


def test_an_overloaded_upstream_is_a_503_for_the_client_once_every_target_failed() -> None:
    error = from_upstream(
        UpstreamError("status", "overloaded_error: Overloaded (status 529)", status=503, retry_after=4), "claude"
    )
    assert (error.status, error.code, error.headers()) == (503, "upstream_unavailable", {"Retry-After": "4"})
    assert from_upstream(UpstreamError("status", "boom", status=500), "claude").status == 502
