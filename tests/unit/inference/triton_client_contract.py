"""What the Triton backend relies on from ``tritonclient.grpc.aio``'s streaming against the model server, as one
suite run against the fake and the real client, so the fake the adapter's unit tests use cannot drift.

Subclass :class:`TritonClientContract` and provide ``client`` (a :class:`TritonClient` whose server is up)
and ``down`` (one whose server is not there). test_triton_backend.py runs it on
:class:`~tests.unit.inference.fake_triton.FakeTritonClient`; tests/integration/model_server/
test_triton_client_contract.py on the real client against the model server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc.aio import AioRpcError
from llmops_inference.adapters.triton import TritonClient, llm_inputs
from llmops_inference.domain import GenerationRequest, Params

SEEDED = GenerationRequest(kind="completion", params=Params(max_tokens=12, temperature=0.8, seed=7), prompt="Once")
BAD = GenerationRequest(kind="completion", params=Params(max_tokens=4, temperature=-1.0), prompt="Once")


async def one(model: str, request: GenerationRequest) -> AsyncIterator[dict[str, Any]]:
    yield {"model_name": model, "inputs": llm_inputs(request, batched=False)}


def row(result: Any) -> dict[str, Any]:
    """The outputs of one ``llm_stream`` response, each checked to be a ``[1]`` tensor."""
    values = {}
    for name in ("text", "prompt_tokens", "completion_tokens", "finish_reason"):
        array = result.as_numpy(name)
        assert array.shape == (1,), (name, array.shape)
        values[name] = array[0].decode() if isinstance(array[0], bytes) else int(array[0])
    return values


class TritonClientContract:
    @pytest.fixture
    def client(self) -> TritonClient:
        raise NotImplementedError

    @pytest.fixture
    def down(self) -> TritonClient:
        raise NotImplementedError

    async def test_a_stream_sends_text_deltas_then_one_last_response_with_the_counts(
        self, client: TritonClient
    ) -> None:
        rows = []
        async for result, error in client.stream_infer(one("llm_stream", SEEDED), stream_timeout=60):
            assert error is None, error
            rows.append(row(result))
        *deltas, last = rows
        assert deltas and all(d["text"] and d["finish_reason"] == "" for d in deltas)
        assert last["text"] == "" and last["finish_reason"] in {"stop", "length"}
        assert last["prompt_tokens"] > 0 and 0 < last["completion_tokens"] <= 12

    async def test_the_streamed_text_is_the_text_llm_answers(self, client: TritonClient) -> None:
        whole = await client.infer("llm", llm_inputs(SEEDED), client_timeout=60)
        streamed = [row(r)["text"] async for r, _ in client.stream_infer(one("llm_stream", SEEDED), stream_timeout=60)]
        assert "".join(streamed) == whole.as_numpy("text").reshape(-1)[0].decode()

    async def test_an_invalid_parameter_is_one_error_response_naming_it(self, client: TritonClient) -> None:
        responses = [pair async for pair in client.stream_infer(one("llm_stream", BAD), stream_timeout=60)]
        ((result, error),) = responses
        assert result is None and error is not None and error.status() is None
        assert "PyTritonBadParameterError: temperature must be" in error.message()

    async def test_an_unknown_model_is_one_error_response(self, client: TritonClient) -> None:
        responses = [pair async for pair in client.stream_infer(one("no_such_model", SEEDED), stream_timeout=60)]
        ((result, error),) = responses
        assert result is None and error is not None
        assert error.message().startswith("Request for unknown model: 'no_such_model'")

    async def test_cancel_ends_an_open_stream(self, client: TritonClient) -> None:
        stream = client.stream_infer(one("llm_stream", SEEDED), stream_timeout=60)
        _, error = await anext(aiter(stream))
        assert error is None
        assert stream.cancel() is True
        assert stream.cancel() is False  # once only

    async def test_a_server_that_is_not_there_fails_the_read_with_unavailable(self, down: TritonClient) -> None:
        with pytest.raises(AioRpcError) as caught:
            await anext(aiter(down.stream_infer(one("llm_stream", SEEDED), stream_timeout=5)))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
