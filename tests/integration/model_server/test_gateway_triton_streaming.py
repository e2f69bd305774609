"""A streamed chat through the gateway to the real model server goes through ``llm_stream`` token by token.

The model server runs with ``llm_stream`` held after each stream's first delta until the test releases it
(held_stream_server.py), so the order of events is known without timing: the client receives the first chunk
while the model has not generated the second token, and the recorded time to first token is below the latency
by at least the time the test held the model. A client that goes away closes the Triton stream and frees its
slot: with one slot for the upstream, the next stream still runs. The gateway records to the real broker.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from llmops_kit.auth import hash_key
from llmops_schemas.v1.calls import CallRecorded

from tests.fixtures.gateway import serve_gateway
from tests.fixtures.kafka import run_sync
from tests.fixtures.recorded_calls import scan_recorded_calls
from tests.integration.model_server.conftest import ModelServer, serve_models

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

KEY = "llmops_integration_triton_stream_key_" + uuid.uuid4().hex
TENANT = f"it-ts-{uuid.uuid4().hex[:8]}"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "opticks-gpt2"
WITHIN_S = 60.0
REPO = Path(__file__).resolve().parents[3]
CHAT = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 12,
    "temperature": 0,
    "stream": True,
    "stream_options": {"include_usage": True},
}


@dataclass(frozen=True)
class Gate:
    """The held model server's folder: ``held`` appears when a stream waits, ``release`` lets it go on."""

    folder: Path

    @property
    def held(self) -> bool:
        return (self.folder / "held").exists()

    def release(self) -> None:
        (self.folder / "release").touch()

    def reset(self) -> None:
        for name in ("held", "release"):
            (self.folder / name).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def held_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModelServer, Gate]]:
    gate = Gate(tmp_path_factory.mktemp("held-stream"))
    python_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    with serve_models(
        model_dir,
        tmp_path_factory.mktemp("held-model-server"),
        module="tests.integration.model_server.held_stream_server",
        HELD_STREAM_DIR=str(gate.folder),
        PYTHONPATH=python_path,
    ) as server:
        yield server, gate


@pytest.fixture(scope="module")
def gateway(
    kafka_bootstrap: str, held_server: tuple[ModelServer, Gate], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    server, _ = held_server
    keys = f"keys:\n  - {{id: it-ts, tenant_id: {TENANT}, role: writer, sha256: {hash_key(KEY)}}}\n"
    routes = (
        f"upstreams:\n  - {{name: triton, base_url: 'grpc://{server.grpc}', max_connections: 1}}\n"
        f"models:\n  {MODEL}: [{{backend: triton, upstream: triton, model: llm, timeout_s: 30}}]\n"
    )
    folder = tmp_path_factory.mktemp("gateway-triton-stream")
    with serve_gateway(kafka_bootstrap, folder, keys=keys, key=KEY, routes=routes) as url:
        yield url


@pytest.fixture
def gate(held_server: tuple[ModelServer, Gate]) -> Iterator[Gate]:
    _, gate = held_server
    gate.reset()
    yield gate
    gate.release()  # never leave the model server waiting


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WITHIN_S:g}s: {what}")
        time.sleep(0.01)


def chunks(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line.removeprefix("data: "))


def content(chunk: dict[str, Any]) -> str:
    return str(chunk["choices"][0]["delta"].get("content") or "") if chunk["choices"] else ""


def recorded(bootstrap: str, call_id: str) -> CallRecorded:
    found: list[CallRecorded] = []

    def keep(event: CallRecorded) -> bool:
        if event.call_id == call_id:
            found.append(event)
        return bool(found)

    run_sync(scan_recorded_calls(bootstrap, TENANT, keep, timeout_s=WITHIN_S))
    return found[0]


def test_the_first_chunk_arrives_before_the_model_generated_the_last_token(
    gateway: str, gate: Gate, kafka_bootstrap: str
) -> None:
    with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=CHAT, headers=AUTH, timeout=WITHIN_S) as response:
        assert response.status_code == 200
        stream = chunks(response)
        first = next(chunk for chunk in stream if content(chunk))
        received = time.perf_counter()
        # The model is waiting before its second token (it could not go on: `release` does not exist yet).
        wait_until(lambda: gate.held, "the model server holds the stream after its first delta")
        released = time.perf_counter()
        gate.release()
        rest = list(stream)

    later = [content(chunk) for chunk in rest if content(chunk)]
    assert later, "everything came in the first chunk"
    assert [c["choices"][0]["finish_reason"] for c in rest if c["choices"] and c["choices"][0]["finish_reason"]] == [
        "length"
    ]
    usage = rest[-1]["usage"]
    assert usage["completion_tokens"] == CHAT["max_tokens"] and usage["prompt_tokens"] > 0

    event = recorded(kafka_bootstrap, first["id"])
    assert event.status == "ok" and event.output == content(first) + "".join(later)
    assert event.time_to_first_token_ms is not None
    assert event.time_to_first_token_ms < event.latency_ms
    # The gateway took its first token before the test received it, and ended after the test released the model.
    assert event.latency_ms - event.time_to_first_token_ms >= (released - received) * 1000 - 1


def test_a_client_that_goes_away_frees_the_slot_of_its_triton_stream(
    gateway: str, gate: Gate, kafka_bootstrap: str
) -> None:
    with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=CHAT, headers=AUTH, timeout=WITHIN_S) as response:
        first = next(chunk for chunk in chunks(response) if content(chunk))
        wait_until(lambda: gate.held, "the model server holds the stream after its first delta")
    # The client is gone while the model is still held: the gateway records the call as closed by the client.
    abandoned = recorded(kafka_bootstrap, first["id"])
    assert (abandoned.status, abandoned.error.type if abandoned.error else None) == ("error", "client_closed")
    assert abandoned.output == content(first)

    gate.release()  # the model server finishes the abandoned generation (PyTriton does not stop it), then:
    # The upstream has one slot: this stream runs only if the abandoned one gave it back.
    answer = httpx.post(f"{gateway}/v1/chat/completions", json=CHAT, headers=AUTH, timeout=WITHIN_S)
    assert answer.status_code == 200 and '"finish_reason":"length"' in answer.text
