"""The official ``openai`` SDK (sync, async, streaming) against the running gateway, backed by two
OpenAI-compatible upstream stubs over real HTTP, recording to the real broker.

The gateway and the stubs each run under uvicorn in a thread on a free port. Every call must show up on
``llmops.calls.recorded`` under this module's tenant, with the response id as ``call_id``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from llmops_inference.bootstrap import create_app
from llmops_inference.config import InferenceSettings
from llmops_kit.auth import hash_key
from llmops_schemas.v2 import CallRecorded

from tests.fixtures.gateway import ServerThread
from tests.fixtures.kafka import run_sync
from tests.fixtures.recorded_calls import scan_recorded_calls
from tests.integration.inference.upstream_stub import create_stub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC = "llmops.calls.recorded"
KEY = "llmops_integration_inference_key_" + uuid.uuid4().hex
TENANT = f"it-inf-{uuid.uuid4().hex[:8]}"
AUTH = {"Authorization": f"Bearer {KEY}"}  # /readyz shows its details only to a caller with a valid key


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, ServerThread]]:
    with ServerThread(create_stub("stub-a")) as a, ServerThread(create_stub("stub-b")) as b:
        yield {"stub-a": a, "stub-b": b}


@pytest.fixture(scope="module")
def gateway(
    kafka_bootstrap: str, stubs: dict[str, ServerThread], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("gateway")
    (folder / "keys.yaml").write_text(
        f"keys:\n  - {{id: it-key, tenant_id: {TENANT}, role: writer, sha256: {hash_key(KEY)}}}\n"
    )
    a, b = stubs["stub-a"].url, stubs["stub-b"].url
    (folder / "routes.yaml").write_text(
        f"upstreams:\n  - {{name: stub-a, base_url: '{a}/v1', api_key_env: STUB_A_KEY}}\n"
        f"  - {{name: stub-b, base_url: '{b}/v1'}}\n"
        "models:\n"
        "  chat-model:\n"
        "    - {backend: openai, upstream: stub-a, model: model-a, timeout_s: 1.5}\n"
        "    - {backend: openai, upstream: stub-b, model: model-b, timeout_s: 5}\n"
        "  only-a: [{backend: openai, upstream: stub-a, model: model-a, timeout_s: 1.0}]\n"
    )
    settings = InferenceSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        api_keys_file=folder / "keys.yaml",
        routes_file=folder / "routes.yaml",
        spool_dir=folder / "spool",
        retries=1,
        retry_backoff_s=0.01,
        breaker_failures=100,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUB_A_KEY", "sk-stub-a-secret")
        with ServerThread(create_app(settings)) as server:
            _wait_for_kafka(server.url)
            yield server.url


def _wait_for_kafka(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz", headers=AUTH).json()["recording"]["kafka"]:
            return
        time.sleep(0.2)


@pytest.fixture
def healthy(stubs: dict[str, ServerThread]) -> Iterator[dict[str, ServerThread]]:
    for stub in stubs.values():
        httpx.post(f"{stub.url}/control", json={})
    yield stubs
    for stub in stubs.values():
        httpx.post(f"{stub.url}/control", json={})


def client(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)


class Recorded:
    """Reads this module's tenant's events back from ``llmops.calls.recorded``."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def by_id(self, call_ids: set[str]) -> dict[str, CallRecorded]:
        found: dict[str, CallRecorded] = {}

        def keep(event: CallRecorded) -> bool:
            if event.call_id in call_ids:
                assert event.call_id not in found, "a call was recorded twice"
                found[event.call_id] = event
            return call_ids <= set(found)

        run_sync(self._scan(keep))
        return found

    def by_content(self, content: str) -> CallRecorded:
        found: list[CallRecorded] = []

        def keep(event: CallRecorded) -> bool:
            if event.messages[0].content == content:
                found.append(event)
            return bool(found)

        run_sync(self._scan(keep))
        return found[0]

    async def _scan(self, keep: Callable[[CallRecorded], bool], timeout_s: float = 30.0) -> None:
        await scan_recorded_calls(self.bootstrap, TENANT, keep, timeout_s)


@pytest.fixture
def recorded(kafka_bootstrap: str) -> Recorded:
    return Recorded(kafka_bootstrap)


def test_sync_chat_completion_is_answered_and_recorded(
    gateway: str, healthy: dict[str, ServerThread], recorded: Recorded
) -> None:
    answer = client(gateway).chat.completions.create(
        model="chat-model",
        messages=[{"role": "user", "content": "ping"}],
        max_tokens=32,
        temperature=0.2,
        extra_headers={"X-LLMOps-App": "it-app"},
    )
    assert answer.id.startswith("chatcmpl-")
    assert answer.choices[0].message.content == "stub-a says: you wrote 'ping'"
    forwarded = httpx.get(f"{healthy['stub-a'].url}/control").json()
    assert forwarded["last_body"]["model"] == "model-a"
    assert (
        forwarded["last_headers"]["authorization"] == "Bearer sk-stub-a-secret"
    )  # the upstream's key, not the caller's
    event = recorded.by_id({answer.id})[answer.id]
    assert (event.status, event.model, event.provider, event.app) == ("ok", "chat-model", "stub-a", "it-app")
    assert event.output == answer.choices[0].message.content
    assert event.parameters.temperature == 0.2 and event.usage is not None


def test_async_client_and_streaming_with_usage(
    gateway: str, healthy: dict[str, ServerThread], recorded: Recorded
) -> None:
    async def run() -> tuple[str, str, Any]:
        async with openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0) as sdk:
            plain = await sdk.chat.completions.create(model="chat-model", messages=[{"role": "user", "content": "a"}])
            stream = await sdk.chat.completions.create(
                model="chat-model",
                messages=[{"role": "user", "content": "b"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            return plain.id, chunks[0].id, chunks

    plain_id, stream_id, chunks = asyncio.run(run())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == "stub-a says: you wrote 'b'"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    events = recorded.by_id({plain_id, stream_id})
    streamed = events[stream_id]
    assert streamed.output is not None and streamed.output.strip() == text.strip()
    assert streamed.time_to_first_token_ms is not None and streamed.time_to_first_token_ms <= streamed.latency_ms


def test_sync_streaming_and_embeddings_and_models(gateway: str, healthy: dict[str, ServerThread]) -> None:
    sdk = client(gateway)
    with sdk.chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "s"}], stream=True
    ) as stream:
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces).strip() == "stub-a says: you wrote 's'"
    vectors = sdk.embeddings.create(model="chat-model", input=["abc", "de"])  # the SDK asks for base64
    assert [v.embedding for v in vectors.data] == [[3.0, 0.5, -1.0], [2.0, 0.5, -1.0]]
    assert [m.id for m in sdk.models.list()] == ["chat-model", "only-a"]


def test_upstream_5xx_is_502_and_recorded(gateway: str, healthy: dict[str, ServerThread]) -> None:
    httpx.post(f"{healthy['stub-a'].url}/control", json={"status": 500})
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).chat.completions.create(model="only-a", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "bad_gateway"  # type: ignore[index]


def test_upstream_timeout_is_504(gateway: str, healthy: dict[str, ServerThread]) -> None:
    httpx.post(f"{healthy['stub-a'].url}/control", json={"delay_s": 3})
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).chat.completions.create(model="only-a", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 504
    assert time.monotonic() - started < 2.9


def test_fallback_to_the_second_upstream(gateway: str, healthy: dict[str, ServerThread], recorded: Recorded) -> None:
    httpx.post(f"{healthy['stub-a'].url}/control", json={"status": 503})
    answer = client(gateway).chat.completions.create(model="chat-model", messages=[{"role": "user", "content": "f"}])
    assert answer.choices[0].message.content == "stub-b says: you wrote 'f'"
    assert httpx.get(f"{healthy['stub-a'].url}/control").json()["calls"] == 2  # one retry of the 503, then fallback
    event = recorded.by_id({answer.id})[answer.id]
    assert event.provider == "stub-b" and event.metadata["attempts"] == "3"


def test_errors_reach_the_sdk_in_openai_shape(gateway: str, healthy: dict[str, ServerThread]) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client(gateway).chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"
    bad_key = openai.OpenAI(base_url=f"{gateway}/v1", api_key="llmops_wrong_key_000000000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.models.list()


def test_failed_calls_are_recorded_too(gateway: str, healthy: dict[str, ServerThread], recorded: Recorded) -> None:
    httpx.post(f"{healthy['stub-a'].url}/control", json={"status": 500})
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).chat.completions.create(model="only-a", messages=[{"role": "user", "content": "record me"}])
    assert caught.value.status_code == 502
    # The failed call's id is not in an error body: find it by its content.
    found = recorded.by_content("record me")
    assert found.status == "error" and found.error is not None and found.error.code == "bad_gateway"


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_calling_round_trip_is_answered_and_recorded(
    gateway: str, healthy: dict[str, ServerThread], recorded: Recorded, stream: bool
) -> None:
    sdk = client(gateway)
    ask = {"role": "user", "content": f"weather, streamed={stream}?"}
    if stream:
        with sdk.chat.completions.stream(model="only-a", messages=[ask], tools=[WEATHER]) as events:  # type: ignore[list-item]
            first = events.get_final_completion()
    else:
        first = sdk.chat.completions.create(model="only-a", messages=[ask], tools=[WEATHER])  # type: ignore[list-item,assignment]
    (call,) = first.choices[0].message.tool_calls  # type: ignore[misc]
    assert (call.id, call.function.name, call.function.arguments) == ("call_stub_1", "get_weather", '{"city": "Paris"}')
    result = {"role": "tool", "tool_call_id": call.id, "content": "sunny"}
    assistant = {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]}
    second = sdk.chat.completions.create(model="only-a", messages=[ask, assistant, result], tools=[WEATHER])  # type: ignore[list-item]
    assert second.choices[0].message.content == "stub-a says: you wrote 'sunny'"
    events = recorded.by_id({first.id, second.id})
    (made,) = events[first.id].choices[0].tool_calls or []
    assert (made.id, made.function.name, made.function.arguments) == ("call_stub_1", "get_weather", '{"city": "Paris"}')
    assert events[first.id].request is not None and events[first.id].request.tools[0].name == "get_weather"  # type: ignore[index]
    answered = events[second.id].messages
    assert [m.role for m in answered] == ["user", "assistant", "tool"] and answered[2].tool_call_id == "call_stub_1"
    assert answered[1].tool_calls is not None and answered[1].tool_calls[0].function.arguments == '{"city": "Paris"}'


def test_readyz_reports_upstreams_and_kafka(gateway: str) -> None:
    body = httpx.get(f"{gateway}/readyz", headers=AUTH).json()
    assert body["ready"] is True
    assert set(body["upstreams"]) == {"stub-a", "stub-b"}
    assert body["recording"]["kafka"] is True
