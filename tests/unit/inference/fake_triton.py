"""An in-memory ``tritonclient.grpc.aio.InferenceServerClient`` serving ``llm``, ``llm_stream`` and ``embedder``
as the model server does (tensor shapes, error responses, the stream protocol); triton_client_contract.py checks
it against the real client and model server.

``llm`` answers ``reply`` whole; ``llm_stream`` answers it word by word, then a last response with empty text,
the token counts and the finish reason. ``hold`` (an :class:`asyncio.Event`) pauses every stream after its
first delta until it is set: what the model server does while it decodes the next token. ``stream_failure``
is sent as an error response after the first delta; ``call_failure`` (a ``grpc.aio.AioRpcError``) fails the
first read of a stream; ``cut`` ends streams before their last response, ``overrun`` sends a delta after it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import grpc
import numpy as np
from grpc.aio import AioRpcError, Metadata
from tritonclient.utils import InferenceServerException, deserialize_bytes_tensor

__all__ = ["FakeResult", "FakeStream", "FakeTritonClient", "value"]

REPLY = "Light is a body."
PROMPT_TOKENS = 11
BAD_TEMPERATURE = (
    'Traceback (most recent call last):\n  File "serving.py", line 107, in parse_generation\n'
    "    raise PyTritonBadParameterError(str(exc)) from None\n"
    "pytriton.exceptions.PyTritonBadParameterError: temperature must be a finite number >= 0, got {value}\n"
)


def value(tensor: Any) -> Any:
    """The single value an InferInput carries (BYTES deserialised)."""
    raw = tensor._get_content()
    if tensor.datatype() == "BYTES":
        return deserialize_bytes_tensor(raw)[0]
    dtype = {"INT32": np.int32, "INT64": np.int64, "FP32": np.float32}[tensor.datatype()]
    return np.frombuffer(raw, dtype=dtype)[0]


def rpc_error(code: grpc.StatusCode, details: str) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details)


class FakeResult:
    def __init__(self, outputs: dict[str, np.ndarray[Any, Any]]) -> None:
        self.outputs = outputs

    def as_numpy(self, name: str) -> np.ndarray[Any, Any] | None:
        return self.outputs.get(name)


def _llm_outputs(text: str, prompt: int, completion: int, finish: str, shape: tuple[int, ...]) -> FakeResult:
    return FakeResult(
        {
            "text": np.array([text.encode()], dtype=np.object_).reshape(shape),
            "prompt_tokens": np.array([prompt], dtype=np.int32).reshape(shape),
            "completion_tokens": np.array([completion], dtype=np.int32).reshape(shape),
            "finish_reason": np.array([finish.encode()], dtype=np.object_).reshape(shape),
        }
    )


class FakeStream:
    """One ``stream_infer`` call: ``(result, error)`` pairs; after :meth:`cancel` a read raises CancelledError,
    as a cancelled ``grpc.aio`` call does."""

    def __init__(self, client: FakeTritonClient, requests: AsyncIterator[dict[str, Any]], timeout: float | None):
        self.timeout = timeout
        self.cancelled = False
        self.finished = False
        self.sent = 0
        self._client = client
        self._responses = self._run(requests)

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> tuple[Any, InferenceServerException | None]:
        if self.cancelled:
            raise asyncio.CancelledError
        try:
            response = await anext(self._responses)
        except StopAsyncIteration:
            self.finished = True
            raise
        self.sent += 1
        return response

    def cancel(self) -> bool:
        if self.finished or self.cancelled:
            return False
        self.cancelled = True
        return True

    async def _run(self, requests: AsyncIterator[dict[str, Any]]) -> AsyncIterator[tuple[Any, Any]]:
        if not self._client.up:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
        if self._client.call_failure is not None:
            raise self._client.call_failure
        async for request in requests:
            inputs = {tensor.name(): tensor for tensor in request["inputs"]}
            self._client.stream_calls.append({"model": request["model_name"], "inputs": inputs})
            async for response in self._answer(request["model_name"], inputs):
                yield response

    async def _answer(self, model: str, inputs: dict[str, Any]) -> AsyncIterator[tuple[Any, Any]]:
        error = self._client.refusal(model, inputs)
        if error is not None:
            yield None, error
            return
        words = re.findall(r"\s*\S+", self._client.reply)
        for index, word in enumerate(words):
            if index == 1:
                if self._client.hold is not None:
                    await self._client.hold.wait()
                if self._client.stream_failure is not None:
                    yield None, self._client.stream_failure
                    return
            yield _llm_outputs(word, 0, 0, "", (1,)), None
        if self._client.cut:
            return
        yield _llm_outputs("", PROMPT_TOKENS, len(words), self._client.finish_reason, (1,)), None
        if self._client.overrun:
            yield _llm_outputs(" more", 0, 0, "", (1,)), None


class FakeTritonClient:
    """Keeps every ``infer`` call in ``calls`` and every stream in ``streams`` (its requests in ``stream_calls``).

    ``error`` is raised by every ``infer``; ``up=False`` plays a server that is not there.
    """

    def __init__(self, url: str = "fake:8001", *, up: bool = True) -> None:
        self.url = url
        self.up = up
        self.reply = REPLY
        self.finish_reason = "length"
        self.calls: list[dict[str, Any]] = []
        self.stream_calls: list[dict[str, Any]] = []
        self.streams: list[FakeStream] = []
        self.error: InferenceServerException | None = None
        self.stream_failure: InferenceServerException | None = None
        self.call_failure: AioRpcError | None = None
        self.cut = False
        self.overrun = False
        self.hold: asyncio.Event | None = None
        self.ready = True
        self.closed = False

    async def infer(
        self, model_name: str, inputs: list[Any], outputs: list[Any] | None = None, client_timeout: float | None = None
    ) -> Any:
        named = {i.name(): i for i in inputs}
        self.calls.append(
            {
                "model": model_name,
                "inputs": named,
                "outputs": [o.name() for o in outputs or []],
                "timeout": client_timeout,
            }
        )
        if not self.up:
            raise InferenceServerException("failed to connect", status="StatusCode.UNAVAILABLE")
        if self.error is not None:
            raise self.error
        if model_name == "embedder":
            return FakeResult({"embedding": np.full((1, 384), 0.5, dtype=np.float32)})
        refused = self.refusal(model_name, named, served="llm")
        if refused is not None:  # outside a stream, Triton gives the status
            status = "StatusCode.NOT_FOUND" if "unknown model" in str(refused.message()) else "StatusCode.INTERNAL"
            raise InferenceServerException(refused.message(), status=status)
        words = len(re.findall(r"\S+", self.reply))
        return _llm_outputs(self.reply, PROMPT_TOKENS, words, self.finish_reason, (1, 1))

    def stream_infer(self, inputs_iterator: AsyncIterator[dict[str, Any]], stream_timeout: float | None = None) -> Any:
        self.streams.append(FakeStream(self, inputs_iterator, stream_timeout))
        return self.streams[-1]

    def refusal(
        self, model: str, inputs: dict[str, Any], served: str = "llm_stream"
    ) -> InferenceServerException | None:
        """What the model server answers a request it refuses (no status: Triton sends none in a stream)."""
        if model != served:
            return InferenceServerException(f"Request for unknown model: '{model}' is not found")
        if "temperature" in inputs and value(inputs["temperature"]) < 0:
            return InferenceServerException(BAD_TEMPERATURE.format(value=value(inputs["temperature"])))
        return None

    async def is_server_ready(self, client_timeout: float | None = None) -> bool:
        if not self.up:
            raise InferenceServerException("failed to connect", status="StatusCode.UNAVAILABLE")
        return self.ready

    async def close(self) -> None:
        self.closed = True
