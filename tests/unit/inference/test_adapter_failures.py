"""A backend adapter that raises something other than an ``UpstreamError`` (a bug in it, or a client library's
exception it let through) is an upstream failure like a 500: never retried, falls back, counts against the
circuit breaker, answered 502 ``bad_gateway`` (or, mid-stream, the stream's error event) and recorded once;
logged once with its traceback but without the exception's message. A cancellation is still a cancellation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from llmops_inference.api_models import ChatCompletionRequest
from llmops_inference.domain import UpstreamError
from llmops_inference.errors import GatewayError
from llmops_inference.ports import CallContext, ShadowCall
from llmops_inference.resilience import BreakerState
from llmops_schemas.v1.calls import ExperimentRef
from prometheus_client import REGISTRY

from tests.unit.inference.support import Harness, assert_openai_error, chat
from tests.unit.inference.test_routing import REQUEST, make_router
from tests.unit.inference.test_streaming import events_of

# What the adapter's exception says: neither may reach the client, the event or the logs.
SECRET = "sk-live-0123456789abcdef quoted from a header"
PROMPT = "my private question about parcel 42"


def adapter_bug() -> RuntimeError:
    return RuntimeError(f"adapter bug: {SECRET} / {PROMPT}")


def attempts(upstream: str, outcome: str) -> float:
    labels = {"upstream": upstream, "outcome": outcome}
    return REGISTRY.get_sample_value("llmops_inference_upstream_attempts_total", labels) or 0.0


def adapter_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def assert_logged_once_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    (record,) = adapter_logs(caplog)  # once: not again by the app's unhandled-error handler
    assert record.name == "llmops_inference.router"
    assert "'primary'" in record.getMessage() and "builtins.RuntimeError" in record.getMessage()
    traceback = record.traceback  # type: ignore[attr-defined]
    assert traceback.startswith("Traceback (most recent call last):\n") and "adapters/memory.py" in traceback
    assert traceback.endswith("builtins.RuntimeError")
    for text in (record.getMessage(), traceback):
        assert SECRET not in text and PROMPT not in text and "adapter bug" not in text


async def test_a_non_streamed_call_is_a_502_and_recorded(
    gw: Harness, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    gw.backends["primary"].failures = [adapter_bug()]
    before = attempts("primary", "adapter")
    response = await gw.client.post("/v1/chat/completions", json=chat(model="solo", content=PROMPT), headers=auth)
    error = assert_openai_error(response, 502, code="bad_gateway")
    assert error["type"] == "server_error"
    assert error["message"] == "'solo': upstream 'primary' failed unexpectedly (RuntimeError)"
    assert len(gw.backends["primary"].requests) == 1  # not retried
    (event,) = await gw.events()
    assert (event.status, event.provider, event.model) == ("error", "gateway", "solo")
    assert event.messages[0].content == PROMPT  # the call's own messages are recorded as always
    assert event.error is not None and event.error.message == error["message"]
    assert (event.error.type, event.error.code) == ("server_error", "bad_gateway")
    assert event.metadata["http_status"] == "502"
    assert attempts("primary", "adapter") == before + 1
    assert_logged_once_without_internals(caplog)


async def test_a_stream_whose_adapter_raises_before_the_first_chunk_is_a_502_not_an_sse_body(
    gw: Harness, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    gw.backends["primary"].failures = [adapter_bug()]
    body = {**chat(model="solo", content=PROMPT), "stream": True}
    response = await gw.client.post("/v1/chat/completions", json=body, headers=auth)
    error = assert_openai_error(response, 502, code="bad_gateway")
    assert "RuntimeError" in error["message"] and SECRET not in error["message"]
    (event,) = await gw.events()
    assert (event.status, event.error.type, event.error.code) == ("error", "server_error", "bad_gateway")
    assert event.metadata["http_status"] == "502" and event.output is None
    assert_logged_once_without_internals(caplog)


async def test_a_stream_whose_adapter_raises_mid_stream_ends_with_an_error_event_and_is_recorded(
    gw: Harness, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    gw.backends["primary"].stream_failure = adapter_bug()
    before = attempts("primary", "adapter")
    body = {**chat(model="solo", content=PROMPT), "stream": True}
    response = await gw.client.post("/v1/chat/completions", json=body, headers=auth)
    assert response.status_code == 200
    payloads = events_of(response.text)  # ends with [DONE]
    last = json.loads(payloads[-1])
    assert last == {
        "error": {
            "message": "upstream 'primary' failed unexpectedly (RuntimeError)",
            "type": "server_error",
            "param": None,
            "code": "adapter",
        }
    }
    (event,) = await gw.events()
    assert (event.status, event.error.type, event.error.code) == ("error", "upstream_error", "adapter")
    assert event.error.message == last["error"]["message"]
    assert event.output == "Hello from"  # what the client received before the break
    assert attempts("primary", "adapter") == before + 1
    assert gw.wiring.router.breakers["primary"]._failures == 1  # counted like a broken upstream stream
    assert_logged_once_without_internals(caplog)


async def test_an_adapter_exception_falls_back_to_the_next_target_without_a_retry(
    gw: Harness, auth: dict[str, str]
) -> None:
    gw.backends["primary"].failures = [adapter_bug()]
    gw.backends["secondary"].reply = "from the fallback"
    response = await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "from the fallback"
    assert len(gw.backends["primary"].requests) == 1
    (event,) = await gw.events()
    assert (event.status, event.provider, event.metadata["attempts"]) == ("ok", "secondary", "2")


async def test_a_stream_falls_back_too_when_the_adapter_raises_before_the_first_chunk(
    gw: Harness, auth: dict[str, str]
) -> None:
    gw.backends["primary"].failures = [adapter_bug()]
    gw.backends["secondary"].reply = "from the fallback"
    response = await gw.client.post("/v1/chat/completions", json={**chat(), "stream": True}, headers=auth)
    chunks = [json.loads(p) for p in events_of(response.text)]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "from the fallback"
    (event,) = await gw.events()
    assert (event.status, event.provider, event.metadata["attempts"]) == ("ok", "secondary", "2")


async def test_adapter_exceptions_are_not_retried_and_open_the_circuit_like_5xx() -> None:
    router, backends, _, slept = make_router(retries=2, threshold=2)
    backends["primary"].failures = [adapter_bug(), KeyError("choices")]
    for _ in range(2):
        _, routed = await router.generate("gpt-test", REQUEST)
        assert routed.target.upstream == "secondary" and routed.attempts == 2
    assert slept == [] and len(backends["primary"].requests) == 2
    assert router.breakers["primary"].state is BreakerState.OPEN
    with pytest.raises(GatewayError) as caught:
        await router.generate("solo", REQUEST)  # primary only, circuit open: refused without calling it
    assert (caught.value.status, caught.value.code) == (503, "upstream_unavailable")
    assert len(backends["primary"].requests) == 2


async def test_when_the_last_target_raises_it_decides_the_answer() -> None:
    router, backends, _, _ = make_router(retries=0)
    backends["primary"].failures = [UpstreamError("timeout", "slow")]
    backends["secondary"].failures = [adapter_bug()]
    with pytest.raises(GatewayError) as caught:
        await router.generate("gpt-test", REQUEST)
    assert (caught.value.status, caught.value.code, caught.value.type) == (502, "bad_gateway", "server_error")


async def test_a_cancellation_is_not_an_adapter_failure() -> None:
    router, backends, _, _ = make_router(retries=2, threshold=1)
    backends["primary"].failures = [asyncio.CancelledError()]
    with pytest.raises(asyncio.CancelledError):
        await router.generate("gpt-test", REQUEST)
    assert backends["secondary"].requests == []  # no fallback: the caller is gone
    assert router.breakers["primary"].state is BreakerState.CLOSED  # says nothing about the upstream


async def test_a_shadow_copy_that_hits_a_gateway_bug_is_recorded_and_its_task_does_not_raise(
    gw: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: Any) -> dict[str, Any]:
        raise adapter_bug()

    gateway = gw.wiring.gateway
    monkeypatch.setattr(gateway.runner, "generate", broken)
    shadow = ShadowCall(
        request=ChatCompletionRequest.model_validate(chat(content=PROMPT)),
        experiment=ExperimentRef(experiment_id="exp-1", variant="copy"),
    )
    context = CallContext(tenant_id="acme", key_id="writer-key", app="a", endpoint="chat", call_id="chatcmpl-shadow")
    await gateway._shadow(shadow, context)  # returns: nothing escapes the task
    (event,) = await gw.events()
    assert event.experiment is not None and (event.experiment.shadow, event.tags) == (True, ["shadow"])
    assert (event.call_id, event.status) == ("chatcmpl-shadow", "error")
    assert event.error is not None
    assert (event.error.type, event.error.message) == ("server_error", "an unexpected error occurred")
    assert event.metadata["http_status"] == "500"
    (record,) = adapter_logs(caplog)
    assert record.name == "llmops_inference.handlers" and "builtins.RuntimeError" in record.getMessage()
    assert SECRET not in record.getMessage() + record.traceback  # type: ignore[attr-defined]


async def test_a_shadow_copy_whose_prompt_resolution_hits_a_gateway_bug_is_recorded_as_a_500(
    gw: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: Any) -> Any:
        raise adapter_bug()

    gateway = gw.wiring.gateway
    monkeypatch.setattr(gateway.resolver, "resolve", broken)
    shadow = ShadowCall(
        request=ChatCompletionRequest.model_validate(chat(content=PROMPT)),
        experiment=ExperimentRef(experiment_id="exp-1", variant="copy"),
    )
    context = CallContext(tenant_id="acme", key_id="writer-key", app="a", endpoint="chat", call_id="chatcmpl-shadow")
    await gateway._shadow(shadow, context)  # returns: nothing escapes the task
    (event,) = await gw.events()
    assert event.experiment is not None and (event.experiment.shadow, event.tags) == (True, ["shadow"])
    assert (event.call_id, event.status, event.metadata["http_status"]) == ("chatcmpl-shadow", "error", "500")
    assert event.error is not None
    assert (event.error.type, event.error.message) == ("server_error", "an unexpected error occurred")
    assert [m.content for m in event.messages] == [PROMPT], "the copy as it was before resolving"
    assert gw.backends["primary"].requests == []
    (record,) = adapter_logs(caplog)
    assert record.name == "llmops_inference.handlers" and "builtins.RuntimeError" in record.getMessage()
    assert SECRET not in record.getMessage() + record.traceback  # type: ignore[attr-defined]
