"""The OpenAI-compatible upstream adapter over the in-memory transport, and SSRF: a request cannot move it.

The aiohttp transport under it in production passes the same transport contract (``test_http_transport.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from llmops_inference.adapters.http_transport import HttpAnswer, HttpRequest, TransportError
from llmops_inference.adapters.memory import MockTransport, mock_answer
from llmops_inference.adapters.openai_upstream import OpenAIUpstream
from llmops_inference.domain import GenerationRequest, Params, UpstreamError
from llmops_inference.routing_table import RoutingTable, Target, Upstream

from tests.unit.inference.support import chat

UPSTREAM = Upstream(name="prov", base_url="https://llm.example.test/v1", api_key_env="PROV_TEST_KEY")
TARGET = Target(backend="openai", upstream="prov", model="up-model", timeout_s=5)
CHAT = GenerationRequest(
    kind="chat",
    params=Params(max_tokens=20, temperature=0.5, stop=("END",), seed=7, extra={"presence_penalty": 0.1}),
    messages=({"role": "user", "content": "hi"},),
)
Handler = Callable[[HttpRequest], HttpAnswer]


async def started(handler: Handler, monkeypatch: pytest.MonkeyPatch) -> tuple[OpenAIUpstream, list[HttpRequest]]:
    monkeypatch.setenv("PROV_TEST_KEY", "sk-upstream-secret-0123456789")
    transport = MockTransport(handler)
    backend = OpenAIUpstream(UPSTREAM, transport=transport)
    await backend.start()
    return backend, transport.requests


def completion(text: str = "hello") -> dict[str, Any]:
    return {
        "id": "x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


async def test_a_chat_request_is_mapped_and_the_answer_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, seen = await started(lambda r: mock_answer(200, json_body=completion()), monkeypatch)
    generation = await backend.generate(CHAT, TARGET)
    assert (generation.text, generation.finish_reason, generation.usage.total_tokens) == ("hello", "length", 5)  # type: ignore[union-attr]
    (request,) = seen
    assert (request.method, request.url) == ("POST", "https://llm.example.test/v1/chat/completions")
    assert request.headers["Authorization"] == "Bearer sk-upstream-secret-0123456789"
    body = json.loads(request.content)
    assert body == {
        "model": "up-model",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 20,
        "temperature": 0.5,
        "seed": 7,
        "stop": ["END"],
        "presence_penalty": 0.1,
    }
    await backend.stop()


async def test_a_stream_is_parsed_skipping_role_only_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
    ]
    body = ": keep-alive\n\n" + "".join(f"data: {json.dumps(x)}\n\n" for x in lines) + "data: [DONE]\n\n"
    backend, seen = await started(
        lambda r: mock_answer(200, text=body, headers={"content-type": "text/event-stream"}), monkeypatch
    )
    deltas = [d async for d in backend.stream(CHAT, TARGET)]
    assert [d.text for d in deltas] == ["Hel", "lo", ""]
    assert deltas[1].finish_reason == "stop" and deltas[2].usage.total_tokens == 3  # type: ignore[union-attr]
    sent = json.loads(seen[0].content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("response", "kind", "status"),
    [
        (mock_answer(500, json_body={"error": {"message": "internal"}}), "status", 500),
        (mock_answer(503, text="unavailable"), "status", 503),
        (mock_answer(429, json_body={"error": {"message": "slow"}}, headers={"Retry-After": "3"}), "status", 429),
        (mock_answer(200, text="not json"), "protocol", None),
        (mock_answer(200, json_body={"choices": []}), "protocol", None),
    ],
)
async def test_error_answers_become_upstream_errors(
    monkeypatch: pytest.MonkeyPatch, response: HttpAnswer, kind: str, status: int | None
) -> None:
    backend, _ = await started(lambda r: response, monkeypatch)
    with pytest.raises(UpstreamError) as caught:
        await backend.generate(CHAT, TARGET)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    if status == 429:
        assert caught.value.retry_after == 3


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TransportError("connect", "ClientConnectorError"), "connect"),
        (TransportError("timeout", "SocketTimeoutError"), "timeout"),
        (TransportError("unavailable", "PoolTimeout"), "unavailable"),
        (TransportError("protocol", "ServerDisconnectedError"), "protocol"),
    ],
)
async def test_transport_errors_name_no_url_or_key(monkeypatch: pytest.MonkeyPatch, exc: Exception, kind: str) -> None:
    def fail(request: HttpRequest) -> HttpAnswer:
        raise exc

    backend, _ = await started(fail, monkeypatch)
    with pytest.raises(UpstreamError) as caught:
        await backend.generate(CHAT, TARGET)
    assert caught.value.kind == kind
    assert "example.test" not in caught.value.message and "sk-upstream" not in caught.value.message


async def test_embeddings_ask_for_floats_and_keep_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {
        "data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [2.0, 3.0]}],
        "usage": {"prompt_tokens": 4},
    }
    backend, seen = await started(lambda r: mock_answer(200, json_body=data), monkeypatch)
    result = await backend.embed(["a", "b"], TARGET, 2)
    assert result.vectors == [[2.0, 3.0], [0.0, 1.0]] and result.prompt_tokens == 4
    assert json.loads(seen[0].content) == {
        "model": "up-model",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 2,
    }


@pytest.mark.parametrize("field", ["base_url", "api_base", "upstream", "api_key", "extra_headers"])
async def test_base_url_in_a_request_body_has_no_effect(
    make_harness, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch, field: str
) -> None:  # type: ignore[no-untyped-def]
    """SSRF: `base_url`, `api_base` and friends in the body are refused (400 naming them: never forwarded, since
    an upstream that is itself a proxy could honour them, nor silently dropped) and never change the host."""
    hosts: list[str] = []

    def answer(request: HttpRequest) -> HttpAnswer:
        hosts.append(urlsplit(request.url).hostname or "")
        return mock_answer(200, json_body=completion())

    upstream = OpenAIUpstream(UPSTREAM, transport=MockTransport(answer))
    routes = {
        "upstreams": [UPSTREAM.model_dump()],
        "models": {"m": [TARGET.model_dump()]},
    }
    hostile = {
        "base_url": "http://169.254.169.254/latest/meta-data/",
        "api_base": "http://127.0.0.1:6379/",
        "upstream": "http://evil.test/v1",
        "api_key": "sk-attacker",
        "extra_headers": {"Host": "evil.test"},
    }
    async with make_harness(routes=routes, backends={"prov": upstream}) as gw:
        response = await gw.client.post(
            "/v1/chat/completions", json=chat(model="m", **{field: hostile[field]}), headers=auth
        )
        assert response.status_code == 400 and response.json()["error"]["param"] == field
        response = await gw.client.post("/v1/completions", json={"model": "m", "prompt": "p", field: "x"}, headers=auth)
        assert response.status_code == 400 and response.json()["error"]["param"] == field
    assert hosts == []
    assert RoutingTable.model_validate(routes).upstreams[0].base_url == UPSTREAM.base_url
