"""The official OpenAI SDK against the gateway backed by the real model server, recorded into the warehouse.

Real Kafka, the model server (PyTriton ``llm`` on the CPU), the gateway and the warehouse, each its own process.
Sync, async and streaming chat completions answer text with usage; each call shows up in the warehouse with
provider ``triton`` and the usage the SDK saw. Then the model server is killed: the gateway's /readyz turns 503
within a bounded time, a request fails with 503 in OpenAI's error shape, and that failed call is recorded too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import E2EPlatform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MODEL = "opticks-gpt2"
APP = "gateway-e2e"
HEALTH_INTERVAL_S = 0.5
NOT_READY_WITHIN_S = 20.0
RECORDED_WITHIN_S = 90.0
MESSAGES: list[Any] = [{"role": "user", "content": "Where is my parcel?"}]


@pytest.fixture
def gateway(e2e_platform: E2EPlatform) -> Iterator[E2EPlatform]:
    e2e_platform.start_model_server()
    e2e_platform.start_warehouse()
    e2e_platform.start_gateway(
        {MODEL: [{"backend": "triton", "upstream": "triton", "model": "llm", "timeout_s": 60}]},
        INFERENCE_HEALTH_INTERVAL_S=str(HEALTH_INTERVAL_S),
        INFERENCE_RETRY_BACKOFF_S="0.05",
    )
    yield e2e_platform


def _sdk_args(platform: E2EPlatform) -> dict[str, Any]:
    return {
        "base_url": f"{platform.url('inference')}/v1",
        "api_key": platform.key,
        "default_headers": {"X-LLMOps-App": APP},
        "max_retries": 0,  # a 503 must reach the test, not be retried by the SDK
        "timeout": 60,
    }


def _recorded(platform: E2EPlatform, client: httpx.Client, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The warehouse's items for ``call_ids``, once all of them are queryable (fails after a bounded wait)."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + RECORDED_WITHIN_S
    while time.monotonic() < deadline:
        response = client.get(
            f"{platform.url('warehouse')}/v1/calls",
            params={"app": APP, "limit": 1000, "start": "2000-01-01T00:00:00Z"},
            headers=platform.headers,
        )
        if response.status_code == 200:
            found = {c["call_id"]: c for c in response.json()["items"] if c["call_id"] in call_ids}
            if len(found) == len(call_ids):
                return found
        time.sleep(0.5)
    pytest.fail(f"only {sorted(found)} of {sorted(call_ids)} in the warehouse after {RECORDED_WITHIN_S}s")


async def test_the_openai_sdk_through_the_gateway_to_triton_recorded_and_failing_over_when_it_dies(
    gateway: E2EPlatform,
) -> None:
    usage: dict[str, openai.types.CompletionUsage] = {}

    sync = openai.OpenAI(**_sdk_args(gateway))
    answer = sync.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=12, seed=1, user="u-sync")
    assert answer.id.startswith("chatcmpl-")
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.completion_tokens <= 12
    usage[answer.id] = answer.usage

    async with openai.AsyncOpenAI(**_sdk_args(gateway)) as client:
        answer = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=12, seed=2, user="u-async"
        )
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    usage[answer.id] = answer.usage

    text, stream_id, stream_usage = "", "", None
    for chunk in sync.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        max_tokens=12,
        seed=3,
        user="u-stream",
        stream=True,
        stream_options={"include_usage": True},
    ):
        stream_id = chunk.id
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            stream_usage = chunk.usage
    assert text
    assert stream_usage is not None and stream_usage.prompt_tokens > 0 and stream_usage.completion_tokens > 0
    usage[stream_id] = stream_usage
    assert len(usage) == 3

    # the llm has no tools: refused naming the field and the model, never sent without them
    tool = {"type": "function", "function": {"name": "track", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError) as refused:
        sync.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[tool])  # type: ignore[list-item]
    assert refused.value.param == "tools" and f"'{MODEL}'" in refused.value.message

    with httpx.Client(timeout=30) as client:
        recorded = _recorded(gateway, client, set(usage))
        for call_id, expected in usage.items():
            call = recorded[call_id]
            assert call["status"] == "ok", call
            assert call["provider"] == "triton"
            assert call["model"] == MODEL
            assert call["usage"]["prompt_tokens"] == expected.prompt_tokens
            assert call["usage"]["completion_tokens"] == expected.completion_tokens
            assert call["usage"]["total_tokens"] == expected.total_tokens
            assert call["output"]

        # the model server dies: the gateway stops being ready within a bounded time
        gateway.processes["model-server"].kill()
        deadline = time.monotonic() + NOT_READY_WITHIN_S
        while (ready := client.get(f"{gateway.url('inference')}/readyz")).status_code == 200:
            assert time.monotonic() < deadline, f"/readyz still 200 {NOT_READY_WITHIN_S}s after the kill"
            time.sleep(0.2)
        assert ready.status_code == 503, ready.text
        assert ready.json()["ready"] is False

        with pytest.raises(openai.APIStatusError) as failed:
            sync.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=12, user="u-down")
        assert failed.value.status_code == 503
        error = failed.value.response.json()["error"]
        assert set(error) >= {"message", "type", "param", "code"}
        assert error["type"] == "server_error" and error["message"]

        deadline = time.monotonic() + RECORDED_WITHIN_S
        errors: list[dict[str, Any]] = []
        while not errors and time.monotonic() < deadline:
            response = client.get(
                f"{gateway.url('warehouse')}/v1/calls",
                params={"app": APP, "status": "error", "start": "2000-01-01T00:00:00Z"},
                headers=gateway.headers,
            )
            assert response.status_code == 200, response.text
            errors = response.json()["items"]
            time.sleep(0.5)
        assert len(errors) == 1, errors
        assert errors[0]["model"] == MODEL and errors[0]["user_id"] == "u-down"
        assert errors[0]["error"]["message"]
    sync.close()
