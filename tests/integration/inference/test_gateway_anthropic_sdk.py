"""The official ``anthropic`` SDK (sync client, real HTTP) against the running gateway on ``/v1/messages``, backed
by an OpenAI-compatible upstream stub over real HTTP, recording to the real broker: the call event reaches
``llmops.calls.recorded`` under this module's tenant with the message id as ``call_id``.

Tool use, images and the translation's details run in process (``tests/unit/inference/test_anthropic_*.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest
from llmops_kit.auth import hash_key

from tests.fixtures.gateway import ServerThread, serve_gateway
from tests.fixtures.kafka import run_sync
from tests.fixtures.recorded_calls import recorded_by_id
from tests.integration.inference.upstream_stub import create_stub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "llmops_integration_claude_front_key_" + uuid.uuid4().hex
TENANT = f"it-claude-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stub() -> Iterator[ServerThread]:
    with ServerThread(create_stub("stub-c")) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, stub: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("claude-front")
    keys = f"keys:\n  - {{id: claude-key, tenant_id: {TENANT}, role: writer, sha256: {hash_key(KEY)}}}\n"
    routes = (
        f"upstreams:\n  - {{name: stub-c, base_url: '{stub.url}/v1'}}\n"
        "models:\n  chat-model: [{backend: openai, upstream: stub-c, model: model-c, timeout_s: 5}]\n"
    )
    with serve_gateway(kafka_bootstrap, folder, keys=keys, key=KEY, routes=routes) as url:
        yield url


@pytest.fixture
def healthy(stub: ServerThread) -> Iterator[ServerThread]:
    httpx.post(f"{stub.url}/control", json={})
    yield stub
    httpx.post(f"{stub.url}/control", json={})


def claude(gateway: str, key: str = KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key=key, max_retries=0)


def test_messages_plain_and_streamed_are_answered_and_recorded(
    gateway: str, healthy: ServerThread, kafka_bootstrap: str
) -> None:
    client = claude(gateway)
    message = client.messages.create(
        model="chat-model",
        max_tokens=32,
        system="Be brief.",
        messages=[{"role": "user", "content": "ping"}],
        metadata={"user_id": "u-42"},
        extra_headers={"X-LLMOps-App": "claude-app"},
    )
    assert message.id.startswith("msg-") and message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and message.content[0].text == "stub-c says: you wrote 'ping'"
    forwarded = httpx.get(f"{healthy.url}/control").json()["last_body"]
    assert forwarded["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (forwarded["model"], forwarded["max_tokens"], forwarded["user"]) == ("model-c", 32, "u-42")

    with client.messages.stream(
        model="chat-model", max_tokens=32, messages=[{"role": "user", "content": "s"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.strip() == "stub-c says: you wrote 's'" and final.usage.output_tokens > 0

    events = run_sync(recorded_by_id(kafka_bootstrap, TENANT, {message.id, final.id}))
    plain, streamed = events[message.id], events[final.id]
    assert (plain.status, plain.app, plain.user_id, plain.metadata["endpoint"]) == (
        "ok",
        "claude-app",
        "u-42",
        "messages",
    )
    assert streamed.status == "ok" and streamed.time_to_first_token_ms is not None
    assert streamed.choices[0].output is not None and streamed.choices[0].output.strip() == text.strip()


def test_errors_reach_the_sdk_as_anthropics(gateway: str, healthy: ServerThread) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        claude(gateway, key="llmops_wrong_key_000000000000").messages.create(
            model="chat-model", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.NotFoundError):
        claude(gateway).messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    httpx.post(f"{healthy.url}/control", json={"status": 500})
    with pytest.raises(anthropic.InternalServerError) as failed:
        claude(gateway).messages.create(model="chat-model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 500 and failed.value.body["error"]["type"] == "api_error"  # type: ignore[index]
