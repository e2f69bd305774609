"""The Triton backend's tensor mapping, checked against a fake ``tritonclient.grpc.aio`` client (which passes the
same contract as the real one); its streaming is in test_triton_streaming.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from llmops_inference.adapters.triton import TritonBackend, render_chat
from llmops_inference.domain import GenerationRequest, Params, UpstreamError
from llmops_inference.routing_table import Target, Upstream
from tritonclient.utils import InferenceServerException

from tests.unit.inference.fake_triton import FakeTritonClient, value
from tests.unit.inference.triton_client_contract import TritonClientContract

UPSTREAM = Upstream(name="triton", base_url="grpc://127.0.0.1:8001")
LLM = Target(backend="triton", upstream="triton", model="llm", timeout_s=9)
EMBEDDER = Target(backend="triton", upstream="triton", model="embedder")


async def backend() -> tuple[TritonBackend, FakeTritonClient]:
    clients: list[FakeTritonClient] = []

    def factory(url: str) -> FakeTritonClient:
        clients.append(FakeTritonClient(url))
        return clients[-1]

    triton = TritonBackend(UPSTREAM, client_factory=factory)
    await triton.start()
    return triton, clients[0]


async def test_a_chat_becomes_the_llm_tensors_and_the_outputs_an_answer() -> None:
    triton, client = await backend()
    assert client.url == "127.0.0.1:8001"
    request = GenerationRequest(
        kind="chat",
        params=Params(max_tokens=32, temperature=0.7, top_p=0.9, stop=("\n\n", "END"), seed=42),
        messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is light?"}),
    )
    generation = await triton.generate(request, LLM)
    assert (generation.text, generation.finish_reason) == ("Light is a body.", "length")
    assert (generation.usage.prompt_tokens, generation.usage.completion_tokens) == (11, 4)  # type: ignore[union-attr]
    (call,) = client.calls
    assert call["model"] == "llm" and call["timeout"] == 9
    assert call["outputs"] == ["text", "prompt_tokens", "completion_tokens", "finish_reason"]
    inputs = call["inputs"]
    assert {n: (t.datatype(), t.shape()) for n, t in inputs.items()} == {
        "prompt": ("BYTES", [1, 1]),
        "max_tokens": ("INT32", [1, 1]),
        "temperature": ("FP32", [1, 1]),
        "top_p": ("FP32", [1, 1]),
        "seed": ("INT64", [1, 1]),
        "stop": ("BYTES", [1, 1]),
    }
    assert value(inputs["prompt"]) == b"System: Be brief.\nUser: What is light?\nAssistant:"
    assert value(inputs["max_tokens"]) == 32 and value(inputs["seed"]) == 42
    assert value(inputs["temperature"]) == pytest.approx(0.7) and value(inputs["top_p"]) == pytest.approx(0.9)
    assert json.loads(value(inputs["stop"])) == ["\n\n", "END"]


async def test_defaults_and_a_plain_prompt() -> None:
    triton, client = await backend()
    await triton.generate(GenerationRequest(kind="completion", params=Params(max_tokens=5), prompt="Once"), LLM)
    inputs = client.calls[0]["inputs"]
    assert value(inputs["prompt"]) == b"Once"
    assert value(inputs["seed"]) == -1 and value(inputs["temperature"]) == 1.0
    assert json.loads(value(inputs["stop"])) == []


async def test_embeddings_send_one_request_per_text() -> None:
    triton, client = await backend()
    result = await triton.embed(["alpha", "beta gamma"], EMBEDDER, None)
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 384
    assert [value(c["inputs"]["text"]) for c in client.calls] == [b"alpha", b"beta gamma"]
    assert all(c["outputs"] == ["embedding"] for c in client.calls)
    with pytest.raises(UpstreamError) as caught:
        await triton.embed(["a"], EMBEDDER, 128)
    assert caught.value.status == 400


class SlowTritonClient(FakeTritonClient):
    """Answers after a short pause, counting how many requests are in flight at once."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.in_flight = self.most_in_flight = 0

    async def infer(self, model_name: str, inputs: list[Any], outputs: Any = None, client_timeout: Any = None) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # the server's time: what lets concurrent requests overlap
            return await super().infer(model_name, inputs, outputs, client_timeout)
        finally:
            self.in_flight -= 1


async def test_the_embeddings_fan_out_never_has_more_requests_in_flight_than_the_upstream_allows() -> None:
    clients: list[SlowTritonClient] = []

    def factory(url: str) -> SlowTritonClient:
        clients.append(SlowTritonClient(url))
        return clients[-1]

    triton = TritonBackend(UPSTREAM.model_copy(update={"max_connections": 4}), client_factory=factory)
    await triton.start()
    results = await asyncio.gather(*(triton.embed([f"text {n}"] * 16, EMBEDDER, None) for n in range(3)))
    assert [len(r.vectors) for r in results] == [16, 16, 16]
    assert len(clients[0].calls) == 48 and clients[0].most_in_flight == 4


class OneFailsTritonClient(FakeTritonClient):
    """The text ``bad`` fails at once; every other request waits until cancelled (a slow server)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.waiting = 0
        self.cancelled = 0

    async def infer(self, model_name: str, inputs: list[Any], outputs: Any = None, client_timeout: Any = None) -> Any:
        if value(inputs[0]) == b"bad":
            raise InferenceServerException("bad input", status="StatusCode.INVALID_ARGUMENT")
        self.waiting += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


async def test_a_failed_text_cancels_the_others_and_frees_their_slots() -> None:
    clients: list[OneFailsTritonClient] = []

    def factory(url: str) -> OneFailsTritonClient:
        clients.append(OneFailsTritonClient(url))
        return clients[-1]

    triton = TritonBackend(UPSTREAM.model_copy(update={"max_connections": 4}), client_factory=factory)
    await triton.start()
    with pytest.raises(UpstreamError) as caught:
        await asyncio.wait_for(triton.embed(["a", "b", "bad", "c"], EMBEDDER, None), 5)
    assert caught.value.status == 400
    assert clients[0].cancelled == clients[0].waiting == 3  # none left holding Triton or a slot
    assert (await triton.embed([], EMBEDDER, None)).vectors == []


@pytest.mark.parametrize(
    ("status", "kind", "http"),
    [
        ("StatusCode.UNAVAILABLE", "connect", None),
        ("StatusCode.DEADLINE_EXCEEDED", "timeout", None),
        ("StatusCode.INVALID_ARGUMENT", "status", 400),
        ("StatusCode.NOT_FOUND", "status", 404),
        ("StatusCode.INTERNAL", "status", 500),
    ],
)
async def test_grpc_errors_map_to_upstream_errors(status: str, kind: str, http: int | None) -> None:
    triton, client = await backend()
    client.error = InferenceServerException("failed", status=status)
    with pytest.raises(UpstreamError) as caught:
        await triton.generate(GenerationRequest(kind="completion", params=Params(max_tokens=1), prompt="x"), LLM)
    assert (caught.value.kind, caught.value.status) == (kind, http)


async def test_probe_and_stop() -> None:
    triton, client = await backend()
    assert await triton.probe() is True
    client.ready = False
    assert await triton.probe() is False
    await triton.stop()
    assert client.closed and await triton.probe() is False


def test_render_chat_joins_content_parts() -> None:
    assert (
        render_chat([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}])
        == "User: ab\nAssistant:"
    )


class TestFakeTritonClient(TritonClientContract):
    @pytest.fixture
    def client(self) -> FakeTritonClient:
        return FakeTritonClient()

    @pytest.fixture
    def down(self) -> FakeTritonClient:
        return FakeTritonClient(up=False)
