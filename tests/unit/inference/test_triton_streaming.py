"""The Triton backend's streaming through ``llm_stream``, against the fake client: deltas relayed as they come,
one slot per stream for its whole length, the call cancelled and the slot freed however the stream ends, and
failures (before and during the stream) as upstream errors; then the same through the gateway (SSE chunks, the
recorded time to first token, a client that goes away, an error mid-stream)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.adapters.triton import TritonBackend
from llmops_inference.api_models import ChatCompletionRequest
from llmops_inference.domain import Delta, GenerationRequest, Params, UpstreamError, Usage
from llmops_inference.ports import Backend, CallContext
from llmops_inference.routing_table import Target, Upstream
from tritonclient.utils import InferenceServerException

from tests.unit.inference.fake_triton import FakeTritonClient, rpc_error, value
from tests.unit.inference.support import Harness, chat

UPSTREAM = Upstream(name="triton", base_url="grpc://127.0.0.1:8001")
LLM = Target(backend="triton", upstream="triton", model="llm", timeout_s=9)
CHAT = GenerationRequest(
    kind="chat", params=Params(max_tokens=16, temperature=0.5, seed=3), messages=({"role": "user", "content": "Hi"},)
)
WITHIN_S = 5.0
"""Bounds every wait of these tests on the fake (which answers at once): a hang fails instead of blocking."""


async def started(client: FakeTritonClient, max_connections: int = 100) -> TritonBackend:
    triton = TritonBackend(
        UPSTREAM.model_copy(update={"max_connections": max_connections}), client_factory=lambda _: client
    )
    await triton.start()
    return triton


async def first(stream: AsyncIterator[Delta]) -> Delta:
    return await asyncio.wait_for(anext(stream), WITHIN_S)


async def rest(stream: AsyncIterator[Delta]) -> list[Delta]:
    async def drain() -> list[Delta]:
        return [delta async for delta in stream]

    return await asyncio.wait_for(drain(), WITHIN_S)


async def test_a_stream_goes_to_llm_stream_and_relays_each_delta_then_the_usage() -> None:
    client = FakeTritonClient()
    triton = await started(client)
    deltas = await rest(triton.stream(CHAT, LLM))
    assert [d.text for d in deltas] == ["Light", " is", " a", " body.", ""]
    assert deltas[-1] == Delta(text="", finish_reason="length", usage=Usage(11, 4))
    assert not any(d.finish_reason for d in deltas[:-1])
    (call,) = client.stream_calls
    assert call["model"] == "llm_stream"
    assert {name: tensor.shape() for name, tensor in call["inputs"].items()} == {
        name: [1] for name in ("prompt", "max_tokens", "temperature", "top_p", "seed", "stop")
    }
    assert value(call["inputs"]["prompt"]) == b"User: Hi\nAssistant:" and value(call["inputs"]["seed"]) == 3
    assert client.streams[0].timeout == LLM.timeout_s  # the whole stream is bounded like a non-streamed call
    assert client.calls == []  # nothing went to `llm`


async def test_the_first_delta_arrives_while_the_server_still_decodes_the_rest() -> None:
    client = FakeTritonClient()
    client.hold = asyncio.Event()
    triton = await started(client)
    stream = triton.stream(CHAT, LLM)
    assert (await first(stream)).text == "Light"
    assert client.streams[0].sent == 1 and not client.streams[0].finished
    client.hold.set()
    assert "".join(d.text for d in await rest(stream)) == " is a body."


async def test_a_stream_holds_a_slot_until_it_ends_and_the_next_waits_within_its_timeout() -> None:
    client = FakeTritonClient()
    client.hold = asyncio.Event()
    triton = await started(client, max_connections=1)
    holding = triton.stream(CHAT, LLM)
    await first(holding)
    with pytest.raises(UpstreamError) as caught:
        await first(triton.stream(CHAT, LLM.model_copy(update={"timeout_s": 0.05})))
    assert caught.value.kind == "timeout" and "no free slot" in caught.value.message
    assert len(client.streams) == 1  # the refused one never reached Triton
    client.hold.set()
    await rest(holding)
    assert (await rest(triton.stream(CHAT, LLM)))[-1].finish_reason == "length"  # the slot came back


async def close(stream: AsyncIterator[Delta]) -> None:
    """What the gateway does when the client goes away: it closes the backend's stream."""
    await stream.aclose()  # type: ignore[attr-defined]


async def time_out(stream: AsyncIterator[Delta]) -> None:
    """What the gateway's timeout between deltas does: it cancels the pending read."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await anext(stream)


@pytest.mark.parametrize("give_up", [close, time_out])
async def test_a_stream_given_up_early_cancels_the_call_and_frees_the_slot(
    give_up: Callable[[AsyncIterator[Delta]], Awaitable[None]],
) -> None:
    client = FakeTritonClient()
    client.hold = asyncio.Event()
    triton = await started(client, max_connections=1)
    stream = triton.stream(CHAT, LLM)
    await first(stream)
    await give_up(stream)
    assert client.streams[0].cancelled
    client.hold.set()
    await rest(triton.stream(CHAT, LLM))


async def test_a_finished_stream_is_not_cancelled() -> None:
    client = FakeTritonClient()
    triton = await started(client)
    await rest(triton.stream(CHAT, LLM))
    assert client.streams[0].finished and not client.streams[0].cancelled


async def test_an_error_response_mid_stream_ends_it_with_an_upstream_error_and_frees_the_slot() -> None:
    client = FakeTritonClient()
    client.stream_failure = InferenceServerException("Traceback ...\nRuntimeError: the model broke\n")
    triton = await started(client, max_connections=1)
    stream = triton.stream(CHAT, LLM)
    assert (await first(stream)).text == "Light"
    with pytest.raises(UpstreamError) as caught:
        await rest(stream)
    assert (caught.value.kind, caught.value.status) == ("status", 502)
    assert caught.value.message == "triton upstream 'triton': RuntimeError: the model broke"
    client.stream_failure = None
    await rest(triton.stream(CHAT, LLM))


async def test_a_refused_parameter_is_a_400_naming_it_without_the_traceback() -> None:
    triton = await started(FakeTritonClient())
    bad = GenerationRequest(kind="completion", params=Params(max_tokens=4, temperature=-1.0), prompt="x")
    with pytest.raises(UpstreamError) as caught:
        await rest(triton.stream(bad, LLM))
    assert (caught.value.kind, caught.value.status) == ("status", 400)
    assert caught.value.message == (
        "triton upstream 'triton': PyTritonBadParameterError: temperature must be a finite number >= 0, got -1.0"
    )


async def test_a_model_without_a_stream_twin_is_a_404_naming_the_twin() -> None:
    triton = await started(FakeTritonClient())
    with pytest.raises(UpstreamError) as caught:
        await rest(triton.stream(CHAT, LLM.model_copy(update={"model": "ranker"})))
    assert (caught.value.kind, caught.value.status) == ("status", 404)
    assert "no model 'ranker_stream'" in caught.value.message


@pytest.mark.parametrize(
    ("code", "kind"),
    [(grpc.StatusCode.UNAVAILABLE, "connect"), (grpc.StatusCode.DEADLINE_EXCEEDED, "timeout")],
)
async def test_a_failed_grpc_call_is_an_upstream_error_and_frees_the_slot(code: grpc.StatusCode, kind: str) -> None:
    client = FakeTritonClient()
    client.call_failure = rpc_error(code, "the call failed")
    triton = await started(client, max_connections=1)
    for _ in range(2):  # the second finds the slot free again
        with pytest.raises(UpstreamError) as caught:
            await rest(triton.stream(CHAT, LLM))
        assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("misbehaviour", "message"),
    [("cut", "ended a stream without its last response"), ("overrun", "answered after a stream's last response")],
)
async def test_a_stream_out_of_protocol_is_a_protocol_failure(misbehaviour: str, message: str) -> None:
    client = FakeTritonClient()
    setattr(client, misbehaviour, True)
    triton = await started(client)
    with pytest.raises(UpstreamError) as caught:
        await rest(triton.stream(CHAT, LLM))
    assert caught.value.kind == "protocol" and message in caught.value.message


async def test_a_call_that_cannot_be_made_is_an_upstream_error_and_frees_the_slot() -> None:
    class Refusing(FakeTritonClient):
        def stream_infer(self, inputs_iterator: Any, stream_timeout: float | None = None) -> Any:
            raise InferenceServerException("failed to connect", status="StatusCode.UNAVAILABLE")

    triton = await started(Refusing(), max_connections=1)
    for _ in range(2):  # the second finds the slot free again
        with pytest.raises(UpstreamError) as caught:
            await rest(triton.stream(CHAT, LLM))
        assert caught.value.kind == "connect"


async def test_a_stream_before_start_is_unavailable() -> None:
    triton = TritonBackend(UPSTREAM, client_factory=FakeTritonClient)
    with pytest.raises(UpstreamError) as caught:
        await rest(triton.stream(CHAT, LLM))
    assert caught.value.kind == "unavailable"


@pytest.fixture
async def triton_gw(make_harness: Callable[..., Any]) -> AsyncIterator[tuple[Harness, FakeTritonClient]]:
    """The gateway whose ``triton`` upstream (model ``triton-only``, one slot) is the real adapter over the fake."""
    client = FakeTritonClient()
    client.hold = asyncio.Event()
    backends: dict[str, Backend] = {name: FakeBackend(name=name) for name in ("primary", "secondary")}
    backends["triton"] = TritonBackend(
        UPSTREAM.model_copy(update={"max_connections": 1}), client_factory=lambda _: client
    )
    async with make_harness(backends=backends) as harness:
        yield harness, client


async def open_chat(gw: Harness, call_id: str) -> AsyncIterator[bytes]:
    request = ChatCompletionRequest.model_validate({**chat("triton-only"), "stream": True})
    context = CallContext(tenant_id="acme", key_id="writer-key", app="a", endpoint="chat", call_id=call_id)
    answer = await asyncio.wait_for(gw.wiring.gateway.chat(request, context), WITHIN_S)
    assert not isinstance(answer, dict)
    return answer


async def next_content(events: AsyncIterator[bytes]) -> str:
    while True:
        event = await asyncio.wait_for(anext(events), WITHIN_S)
        choices = json.loads(event.removeprefix(b"data: "))["choices"]
        if choices and choices[0]["delta"].get("content"):
            return str(choices[0]["delta"]["content"])


async def test_the_gateway_sends_the_first_chunk_while_triton_decodes_and_records_the_real_ttft(
    triton_gw: tuple[Harness, FakeTritonClient],
) -> None:
    gw, client = triton_gw
    assert client.hold is not None
    events = await open_chat(gw, "chatcmpl-triton-ttft")
    assert await next_content(events) == "Light"
    assert client.streams[0].sent == 1  # the fake has not produced the second delta
    client.hold.set()
    rest = [event async for event in events]
    assert rest[-1] == b"data: [DONE]\n\n"
    (event,) = await gw.events()
    assert (event.status, event.output, event.usage.completion_tokens) == ("ok", "Light is a body.", 4)
    assert event.time_to_first_token_ms is not None and event.time_to_first_token_ms < event.latency_ms


async def test_a_client_that_goes_away_cancels_the_triton_call_and_frees_its_slot(
    triton_gw: tuple[Harness, FakeTritonClient],
) -> None:
    gw, client = triton_gw
    events = await open_chat(gw, "chatcmpl-triton-gone")
    await next_content(events)
    await events.aclose()  # type: ignore[attr-defined]  # what the server does when the client goes away
    (event,) = await gw.events()
    assert (event.status, event.error.type) == ("error", "client_closed")
    await asyncio.wait_for(_cancelled(client), WITHIN_S)  # the gateway closes the backend's stream in the background
    assert client.hold is not None
    client.hold.set()
    again = await open_chat(gw, "chatcmpl-triton-next")  # one slot: only if the first gave it back
    assert (await next_content(again)) == "Light"
    assert [e async for e in again][-1] == b"data: [DONE]\n\n"


async def _cancelled(client: FakeTritonClient) -> None:
    while not client.streams[0].cancelled:
        await asyncio.sleep(0)  # yields to the gateway's background close; bounded by the caller's wait_for


async def test_an_error_mid_stream_ends_the_sse_stream_with_an_error_event_and_records_it(
    triton_gw: tuple[Harness, FakeTritonClient],
) -> None:
    gw, client = triton_gw
    assert client.hold is not None
    client.hold.set()
    client.stream_failure = InferenceServerException("Traceback ...\nRuntimeError: the model broke\n")
    events = await open_chat(gw, "chatcmpl-triton-broke")
    assert await next_content(events) == "Light"
    rest = [event async for event in events]
    assert rest[-1] == b"data: [DONE]\n\n"
    error = json.loads(rest[-2].removeprefix(b"data: "))["error"]
    assert (error["message"], error["code"]) == ("triton upstream 'triton': RuntimeError: the model broke", "status")
    (event,) = await gw.events()
    assert (event.status, event.output, event.error.type) == ("error", "Light", "upstream_error")
