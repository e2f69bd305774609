"""The official ``openai`` SDK against the running gateway, routed to local upstreams that speak Anthropic's
Messages API and Google's Gemini API (answers built from the ``anthropic`` and ``google-genai`` SDK types,
requests checked against them), recording to the real broker.

The translation itself, field by field, is covered by ``tests/unit/inference/native``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from llmops_inference.bootstrap import create_app
from llmops_inference.config import InferenceSettings
from llmops_kit.auth import hash_key
from llmops_schemas.v2 import CallRecorded
from pydantic import BaseModel

from tests.fixtures.gateway import ServerThread, wait_until_loaded
from tests.fixtures.kafka import run_sync
from tests.fixtures.provider_requests import PNG, WEATHER
from tests.fixtures.recorded_calls import scan_recorded_calls
from tests.integration.inference.provider_stubs import create_anthropic_stub, create_gemini_stub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "llmops_integration_native_key_" + uuid.uuid4().hex
TENANT = f"it-native-{uuid.uuid4().hex[:8]}"
ANTHROPIC_KEY = "sk-ant-test-" + uuid.uuid4().hex
GEMINI_KEY = "gemini-test-" + uuid.uuid4().hex
NATIVE = ["claude", "gemini"]
TOOLS: Any = [WEATHER]


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, ServerThread]]:
    with (
        ServerThread(create_anthropic_stub("claude", ANTHROPIC_KEY)) as claude,
        ServerThread(create_anthropic_stub("claude-down", ANTHROPIC_KEY)) as down,
        ServerThread(create_gemini_stub("gemini", GEMINI_KEY)) as gemini,
    ):
        yield {"claude": claude, "claude-down": down, "gemini": gemini}


@pytest.fixture(scope="module")
def gateway(
    kafka_bootstrap: str, stubs: dict[str, ServerThread], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("native-gateway")
    (folder / "keys.yaml").write_text(
        f"keys:\n  - {{id: it-native, tenant_id: {TENANT}, role: writer, sha256: {hash_key(KEY)}}}\n"
    )
    (folder / "routes.yaml").write_text(
        "upstreams:\n"
        f"  - {{name: claude, base_url: '{stubs['claude'].url}', api_key_env: IT_ANTHROPIC_KEY}}\n"
        f"  - {{name: claude-down, base_url: '{stubs['claude-down'].url}', api_key_env: IT_ANTHROPIC_KEY}}\n"
        f"  - {{name: gemini, base_url: '{stubs['gemini'].url}', api_key_env: IT_GEMINI_KEY}}\n"
        "models:\n"
        "  claude: [{backend: anthropic, upstream: claude, model: claude-test, timeout_s: 10}]\n"
        "  gemini: [{backend: gemini, upstream: gemini, model: gemini-test, timeout_s: 10}]\n"
        "  claude-down: [{backend: anthropic, upstream: claude-down, model: claude-test, timeout_s: 10}]\n"
        "  resilient:\n"
        "    - {backend: anthropic, upstream: claude-down, model: claude-test, timeout_s: 10}\n"
        "    - {backend: gemini, upstream: gemini, model: gemini-test, timeout_s: 10}\n"
    )
    settings = InferenceSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        api_keys_file=folder / "keys.yaml",
        routes_file=folder / "routes.yaml",
        spool_dir=folder / "spool",
        retries=1,
        retry_backoff_s=0.01,
        breaker_failures=4,
        breaker_cooldown_s=300,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IT_ANTHROPIC_KEY", ANTHROPIC_KEY)
        patch.setenv("IT_GEMINI_KEY", GEMINI_KEY)
        with ServerThread(create_app(settings)) as server:
            wait_until_loaded(server.url, KEY)
            yield server.url


@pytest.fixture
def healthy(stubs: dict[str, ServerThread]) -> Iterator[dict[str, ServerThread]]:
    for stub in stubs.values():
        httpx.post(f"{stub.url}/control", json={})
    yield stubs
    for stub in stubs.values():
        httpx.post(f"{stub.url}/control", json={})


def client(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)


def observed(stub: ServerThread) -> dict[str, Any]:
    seen: dict[str, Any] = httpx.get(f"{stub.url}/control").json()
    return seen


def recorded(bootstrap: str, call_id: str) -> CallRecorded:
    found: list[CallRecorded] = []

    def keep(event: CallRecorded) -> bool:
        if event.call_id == call_id:
            found.append(event)
        return bool(found)

    run_sync(scan_recorded_calls(bootstrap, TENANT, keep, 30.0))
    return found[0]


@pytest.mark.parametrize("model", NATIVE)
def test_plain_chat_is_translated_both_ways_and_recorded(
    model: str, gateway: str, healthy: dict[str, ServerThread], kafka_bootstrap: str
) -> None:
    answer = client(gateway).chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping"}],
        max_tokens=32,
        temperature=0.2,
        stop=["END"],
    )
    assert answer.choices[0].message.content == f'{model} says: you wrote "ping"'
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.prompt_tokens in (131, 120)  # cache reads included
    seen = observed(healthy[model])
    key_header = "x-api-key" if model == "claude" else "x-goog-api-key"
    assert seen["last_headers"][key_header] == (ANTHROPIC_KEY if model == "claude" else GEMINI_KEY)
    assert KEY not in json.dumps(seen["last_headers"])  # the caller's key never reaches a provider
    details = answer.usage.prompt_tokens_details
    assert details is not None and details.cached_tokens == 100
    event = recorded(kafka_bootstrap, answer.id)
    assert (event.status, event.model, event.provider) == ("ok", model, model)
    assert event.choices[0].output == answer.choices[0].message.content and event.usage is not None
    assert event.usage.cached_prompt_tokens == 100
    # Anthropic's cache writes (20) and Gemini's thoughts (5) as the call event v2 records them.
    assert (event.usage.cache_write_tokens, event.usage.reasoning_tokens) == (
        (20, 0) if model == "claude" else (None, 5)
    )


@pytest.mark.parametrize("model", NATIVE)
def test_streaming_relays_deltas_and_the_usage(model: str, gateway: str, healthy: dict[str, ServerThread]) -> None:
    stream = client(gateway).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "tell me more"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f'{model} says: you wrote "tell me more"'
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3  # word by word, not one chunk
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens in (7, 12)


def test_a_field_the_provider_cannot_do_is_a_400_naming_it_and_the_model(
    gateway: str, healthy: dict[str, ServerThread]
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client(gateway).chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}], seed=7)
    assert "'seed' is not supported by model 'claude-test' (Anthropic Messages API)" in refused.value.message
    assert (refused.value.code, refused.value.param) == ("unsupported_parameter", "seed")
    assert observed(healthy["claude"])["calls"] == 0  # refused before any call


def test_a_rate_limit_is_a_429_with_retry_after(gateway: str, healthy: dict[str, ServerThread]) -> None:
    httpx.post(f"{healthy['claude'].url}/control", json={"status": 429, "retry_after": 7})
    with pytest.raises(openai.RateLimitError) as limited:
        client(gateway).chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == "7"
    httpx.post(f"{healthy['gemini'].url}/control", json={"status": 429, "retry_after": 12})
    with pytest.raises(openai.RateLimitError) as quota:
        client(gateway).chat.completions.create(model="gemini", messages=[{"role": "user", "content": "x"}])
    assert quota.value.response.headers["retry-after"] == "12"


def test_an_overloaded_anthropic_is_retried_then_reported(gateway: str, healthy: dict[str, ServerThread]) -> None:
    httpx.post(f"{healthy['claude-down'].url}/control", json={"status": 529})
    with pytest.raises(openai.APIStatusError) as failed:
        client(gateway).chat.completions.create(model="claude-down", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 503 and "overloaded_error" in failed.value.message
    assert observed(healthy["claude-down"])["calls"] == 2  # 529 is a 503: retried once


def test_a_failing_anthropic_upstream_falls_back_and_its_circuit_opens(
    gateway: str, healthy: dict[str, ServerThread]
) -> None:
    httpx.post(f"{healthy['claude-down'].url}/control", json={"status": 529})
    answers = [
        client(gateway).chat.completions.create(model="resilient", messages=[{"role": "user", "content": f"f{i}"}])
        for i in range(3)
    ]
    assert [a.choices[0].message.content for a in answers] == [f'gemini says: you wrote "f{i}"' for i in range(3)]
    # Two attempts per call until four failures open the circuit; then calls skip it without touching it.
    assert observed(healthy["claude-down"])["calls"] <= 4


@pytest.mark.parametrize("model", NATIVE)
def test_tools_round_trip(model: str, gateway: str, healthy: dict[str, ServerThread]) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client(gateway).chat.completions.create(model=model, messages=messages, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client(gateway).chat.completions.create(model=model, messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "The weather is sunny."


@pytest.mark.parametrize("model", NATIVE)
def test_streamed_tool_calls_are_reassembled_by_the_sdk(
    model: str, gateway: str, healthy: dict[str, ServerThread]
) -> None:
    with client(gateway).chat.completions.stream(
        model=model, messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert call.type == "function" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", NATIVE)
def test_images_by_url_and_inline(model: str, gateway: str, healthy: dict[str, ServerThread]) -> None:
    content: Any = [
        {"type": "text", "text": "What are these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://images.example.test/cat.png"}},
    ]
    answer = client(gateway).chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    assert answer.choices[0].message.content == "I see 2 image(s): base64, url"


class Answer(BaseModel):
    answer: int


@pytest.mark.parametrize("model", NATIVE)
def test_json_output_parses_with_the_sdk(model: str, gateway: str, healthy: dict[str, ServerThread]) -> None:
    parsed = client(gateway).chat.completions.parse(
        model=model, messages=[{"role": "user", "content": "The answer?"}], response_format=Answer
    )
    assert parsed.choices[0].message.parsed == Answer(answer=42)
    sent = observed(healthy[model])["last_body"]
    asked = sent["output_config"]["format"] if model == "claude" else sent["generationConfig"]
    assert "answer" in json.dumps(asked)  # the SDK's schema reached the provider in its own field
