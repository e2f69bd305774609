"""The Triton backend, over ``tritonclient.grpc.aio``: the model server's ``llm``, ``llm_stream`` and ``embedder``.

Tensors (one request per call, batch dimension 1, each tensor of shape ``[1, 1]``):

* ``llm``: ``prompt`` BYTES, ``max_tokens`` INT32, ``temperature`` FP32, ``top_p`` FP32, ``seed`` INT64,
  ``stop`` BYTES (a JSON array of strings) -> ``text`` BYTES, ``prompt_tokens`` INT32,
  ``completion_tokens`` INT32, ``finish_reason`` BYTES.
* ``embedder``: ``text`` BYTES -> ``embedding`` FP32 ``[1, 384]``; several texts are sent as concurrent
  requests, which Triton's dynamic batcher batches.

A streamed call goes to the target model's decoupled twin, ``<model>_stream`` (``llm`` -> ``llm_stream``, ADR
0017), over gRPC bidirectional streaming: the same inputs without the batch dimension (shape ``[1]``), answered
by one response per text delta (``finish_reason`` empty) and a last one with the token counts and the finish
reason. Each delta is relayed as it arrives, so the gateway's time to first token is the model's.

At most ``max_connections`` (the upstream's, from the routes file) inference requests (streams included, for
their whole length) are in flight to one Triton server at a time, whatever the fan-out of the calls: a request
waits for a slot within its target's timeout, then fails as a timeout like any other upstream attempt. A stream
must end within its target's timeout (a gRPC deadline), like a non-streamed call; a stream given up before its
end (the client went away, a timeout) has its gRPC call cancelled and its slot freed at once.

A chat is rendered into one prompt (``System: ...\\nUser: ...\\nAssistant:``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import numpy as np
from grpc.aio import AioRpcError
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from llmops_inference.adapters.triton_errors import rpc_error, stream_error, triton_error
from llmops_inference.domain import Delta, Embeddings, Generation, GenerationRequest, UpstreamError, Usage
from llmops_inference.features import text_only_refusal
from llmops_inference.routing_table import Target, Upstream

__all__ = ["LLM_OUTPUTS", "STREAM_SUFFIX", "TritonBackend", "TritonClient", "TritonStream", "render_chat"]

LLM_OUTPUTS = ("text", "prompt_tokens", "completion_tokens", "finish_reason")
STREAM_SUFFIX = "_stream"
"""A streamed call to model ``m`` goes to the decoupled model ``m + STREAM_SUFFIX``."""
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
SEED_UNSET = -1
"""Sent when the caller named no seed (the model server then samples from fresh entropy)."""


class TritonStream(Protocol):
    """The responses of one ``stream_infer`` call: ``(result, None)`` or ``(None, error)`` pairs as they come.

    A read raises ``grpc.aio.AioRpcError`` when the call itself fails (server unreachable, deadline passed).
    ``cancel()`` ends the call at once (the server is told); nothing is read after it.
    """

    def __aiter__(self) -> AsyncIterator[tuple[Any, InferenceServerException | None]]: ...

    def cancel(self) -> bool: ...


class TritonClient(Protocol):
    """The part of ``tritonclient.grpc.aio.InferenceServerClient`` the backend uses (fakes implement this)."""

    async def infer(
        self, model_name: str, inputs: list[Any], outputs: list[Any] | None = None, client_timeout: float | None = None
    ) -> Any: ...

    def stream_infer(
        self, inputs_iterator: AsyncIterator[dict[str, Any]], stream_timeout: float | None = None
    ) -> TritonStream:
        """One bidirectional gRPC stream; each dict the iterator yields is one request (``model_name``, ``inputs``)."""
        ...

    async def is_server_ready(self, client_timeout: float | None = None) -> bool: ...

    async def close(self) -> None: ...


def _grpc_client(url: str) -> TritonClient:
    from tritonclient.grpc.aio import InferenceServerClient

    client: TritonClient = InferenceServerClient(url)
    return client


def render_chat(messages: Iterable[dict[str, Any]]) -> str:
    """A chat as one prompt the ``llm`` model continues."""
    lines = [f"{str(m.get('role', 'user')).capitalize()}: {_text(m.get('content'))}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _tensor(name: str, datatype: str, value: Any, *, batched: bool = True) -> InferInput:
    dtype = {"BYTES": np.object_, "INT32": np.int32, "INT64": np.int64, "FP32": np.float32}[datatype]
    array = np.array([[value]] if batched else [value], dtype=dtype)
    tensor = InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def llm_inputs(request: GenerationRequest, *, batched: bool = True) -> list[InferInput]:
    """The ``llm`` model's input tensors for a request (``batched=False``: ``llm_stream``'s, without the batch
    dimension); a 400 naming what it asks for that ``llm`` cannot do (tools, images, ``n`` > 1, logprobs, JSON
    output...), never dropped silently."""
    refused = text_only_refusal(request)
    if refused is not None:
        param, feature = refused
        message = f"{feature} is not supported by the Triton backend (plain text generation only)"
        raise UpstreamError("status", message, status=400, param=param)
    params = request.params
    prompt = render_chat(request.messages) if request.kind == "chat" else request.prompt
    values = [
        ("prompt", "BYTES", prompt.encode()),
        ("max_tokens", "INT32", params.max_tokens),
        ("temperature", "FP32", DEFAULT_TEMPERATURE if params.temperature is None else params.temperature),
        ("top_p", "FP32", DEFAULT_TOP_P if params.top_p is None else params.top_p),
        ("seed", "INT64", SEED_UNSET if params.seed is None else params.seed),
        ("stop", "BYTES", json.dumps(list(params.stop)).encode()),
    ]
    return [_tensor(name, datatype, value, batched=batched) for name, datatype, value in values]


def _scalar(result: Any, name: str) -> Any:
    array = result.as_numpy(name)
    if array is None or array.size < 1:
        raise UpstreamError("protocol", f"triton answered without the {name!r} output")
    return array.reshape(-1)[0]


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _stream_delta(result: Any) -> Delta:
    """One ``llm_stream`` response: a text delta, or (with a finish reason) the last one, with the usage."""
    finish = _decode(_scalar(result, "finish_reason"))
    if not finish:
        return Delta(text=_decode(_scalar(result, "text")))
    usage = Usage(int(_scalar(result, "prompt_tokens")), int(_scalar(result, "completion_tokens")))
    return Delta(text=_decode(_scalar(result, "text")), finish_reason=finish, usage=usage)


async def _one_request(model: str, inputs: list[InferInput]) -> AsyncIterator[dict[str, Any]]:
    # Ending the request side after one request half-closes the stream: Triton finishes it after the last response.
    yield {"model_name": model, "inputs": inputs}


class TritonBackend:
    """A :class:`~llmops_inference.ports.Backend` for a Triton server; one gRPC channel per upstream."""

    def __init__(self, upstream: Upstream, *, client_factory: Callable[[str], TritonClient] = _grpc_client) -> None:
        self.name = upstream.name
        self.url = upstream.base_url.removeprefix("grpc://")
        self._factory = client_factory
        self._client: TritonClient | None = None
        self.max_in_flight = upstream.max_connections
        self._slots = asyncio.Semaphore(self.max_in_flight)

    async def start(self) -> None:
        self._client = self._factory(self.url)  # a lazy channel: Triton may come up later
        self._slots = asyncio.Semaphore(self.max_in_flight)  # bound to the loop that serves

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        outputs = [InferRequestedOutput(name) for name in LLM_OUTPUTS]
        result = await self._infer(target, llm_inputs(request), outputs)
        usage = Usage(int(_scalar(result, "prompt_tokens")), int(_scalar(result, "completion_tokens")))
        finish = _decode(_scalar(result, "finish_reason")) or None
        return Generation(text=_decode(_scalar(result, "text")), finish_reason=finish, usage=usage)

    async def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        """The deltas of ``<model>_stream`` as Triton sends them; holds a slot until the stream ends or is closed."""
        client = self._started()
        model = target.model + STREAM_SUFFIX
        inputs = llm_inputs(request, batched=False)
        await self._acquire(target)
        responses: TritonStream | None = None
        last: Delta | None = None
        try:
            responses = client.stream_infer(_one_request(model, inputs), stream_timeout=target.timeout_s)
            # Read to the call's end, not just to the last response, so a finished call is never cancelled.
            async for result, error in responses:
                delta = self._stream_delta(model, result, error, after_last=last is not None)
                last = delta if delta.finish_reason else None
                yield delta
            if last is None:
                raise UpstreamError(
                    "protocol", f"triton upstream {self.name!r} ended a stream without its last response"
                )
        except AioRpcError as exc:
            raise rpc_error(self.name, exc) from None
        except InferenceServerException as exc:  # the call could not even be made
            raise triton_error(self.name, exc) from None
        finally:
            # No await: this also runs when the generator is closed or cancelled (the client left, a timeout).
            # Cancelling a finished call is a no-op; an unfinished one is ended on the server's side too.
            if responses is not None:
                responses.cancel()
            self._slots.release()

    async def embed(self, texts: list[str], target: Target, dimensions: int | None) -> Embeddings:
        # A task group, not gather: when one text fails the others are cancelled and give their slots back,
        # instead of holding Triton while the router retries or falls back.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._embed_one(text, target)) for text in texts]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the first failure, as the callers (and gather) expect
        results = [task.result() for task in tasks]
        vectors = [vector for vector, _ in results]
        if dimensions is not None and any(len(v) != dimensions for v in vectors):
            raise UpstreamError("status", f"model {target.model!r} has no {dimensions}-dimension variant", status=400)
        return Embeddings(vectors=vectors, prompt_tokens=sum(tokens for _, tokens in results))

    async def probe(self) -> bool:
        if self._client is None:
            return False
        try:
            return bool(await self._client.is_server_ready(client_timeout=3.0))
        except Exception:
            return False

    async def _embed_one(self, text: str, target: Target) -> tuple[list[float], int]:
        result = await self._infer(
            target, [_tensor("text", "BYTES", text.encode())], [InferRequestedOutput("embedding")]
        )
        array = result.as_numpy("embedding")
        if array is None or array.size < 1:
            raise UpstreamError("protocol", "triton answered without the 'embedding' output")
        # The embedder reports no token count: a rough one keeps usage and rate limits meaningful.
        return [float(x) for x in np.asarray(array, dtype=np.float32).reshape(-1)], max(1, len(text) // 4)

    def _stream_delta(self, model: str, result: Any, error: Any, *, after_last: bool) -> Delta:
        if error is not None:
            raise stream_error(self.name, model, error)
        if after_last:
            raise UpstreamError("protocol", f"triton upstream {self.name!r} answered after a stream's last response")
        return _stream_delta(result)

    def _started(self) -> TritonClient:
        if self._client is None:
            raise UpstreamError("unavailable", f"upstream {self.name!r} is not started")
        return self._client

    async def _acquire(self, target: Target) -> None:
        """One of the upstream's slots, within the target's timeout (the caller releases it)."""
        try:
            async with asyncio.timeout(target.timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            message = f"triton upstream {self.name!r}: no free slot within {target.timeout_s:g}s"
            raise UpstreamError("timeout", f"{message} ({self.max_in_flight} requests in flight)") from None

    async def _infer(self, target: Target, inputs: list[InferInput], outputs: list[InferRequestedOutput]) -> Any:
        client = self._started()
        await self._acquire(target)
        try:
            return await client.infer(target.model, inputs, outputs=outputs, client_timeout=target.timeout_s)
        except InferenceServerException as exc:
            raise triton_error(self.name, exc) from None
        finally:
            self._slots.release()
