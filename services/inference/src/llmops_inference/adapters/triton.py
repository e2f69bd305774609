"""The Triton backend, over ``tritonclient.grpc.aio``: the model server's ``llm`` and ``embedder`` models.

Tensors (one request per call, batch dimension 1, each tensor of shape ``[1, 1]``):

* ``llm``: ``prompt`` BYTES, ``max_tokens`` INT32, ``temperature`` FP32, ``top_p`` FP32, ``seed`` INT64,
  ``stop`` BYTES (a JSON array of strings) -> ``text`` BYTES, ``prompt_tokens`` INT32,
  ``completion_tokens`` INT32, ``finish_reason`` BYTES.
* ``embedder``: ``text`` BYTES -> ``embedding`` FP32 ``[1, 384]``; several texts are sent as concurrent
  requests, which Triton's dynamic batcher batches.

At most ``max_connections`` (the upstream's, from the routes file) inference requests are in flight to one
Triton server at a time, whatever the fan-out of the calls: a request waits for a slot within its target's
timeout, then fails as a timeout like any other upstream attempt.

A chat is rendered into one prompt (``System: ...\\nUser: ...\\nAssistant:``). Streaming yields the whole answer
as one delta: the gateway's framing is the same, only without token-by-token latency.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from llmops_inference.domain import Delta, Embeddings, Generation, GenerationRequest, UpstreamError, Usage
from llmops_inference.features import text_only_refusal
from llmops_inference.routing_table import Target, Upstream

__all__ = ["LLM_OUTPUTS", "TritonBackend", "TritonClient", "render_chat"]

LLM_OUTPUTS = ("text", "prompt_tokens", "completion_tokens", "finish_reason")
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
SEED_UNSET = -1
"""Sent when the caller named no seed (the model server then samples from fresh entropy)."""


class TritonClient(Protocol):
    """The part of ``tritonclient.grpc.aio.InferenceServerClient`` the backend uses (fakes implement this)."""

    async def infer(
        self, model_name: str, inputs: list[Any], outputs: list[Any] | None = None, client_timeout: float | None = None
    ) -> Any: ...

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


def _tensor(name: str, datatype: str, value: Any) -> InferInput:
    dtype = {"BYTES": np.object_, "INT32": np.int32, "INT64": np.int64, "FP32": np.float32}[datatype]
    tensor = InferInput(name, [1, 1], datatype)
    tensor.set_data_from_numpy(np.array([[value]], dtype=dtype))
    return tensor


def llm_inputs(request: GenerationRequest) -> list[InferInput]:
    """The ``llm`` model's input tensors for a request; a 400 naming what it asks for that ``llm`` cannot do
    (tools, images, ``n`` > 1, logprobs, JSON output...), never dropped silently."""
    refused = text_only_refusal(request)
    if refused is not None:
        param, feature = refused
        message = f"{feature} is not supported by the Triton backend (plain text generation only)"
        raise UpstreamError("status", message, status=400, param=param)
    params = request.params
    prompt = render_chat(request.messages) if request.kind == "chat" else request.prompt
    return [
        _tensor("prompt", "BYTES", prompt.encode()),
        _tensor("max_tokens", "INT32", params.max_tokens),
        _tensor("temperature", "FP32", DEFAULT_TEMPERATURE if params.temperature is None else params.temperature),
        _tensor("top_p", "FP32", DEFAULT_TOP_P if params.top_p is None else params.top_p),
        _tensor("seed", "INT64", SEED_UNSET if params.seed is None else params.seed),
        _tensor("stop", "BYTES", json.dumps(list(params.stop)).encode()),
    ]


def _scalar(result: Any, name: str) -> Any:
    array = result.as_numpy(name)
    if array is None or array.size < 1:
        raise UpstreamError("protocol", f"triton answered without the {name!r} output")
    return array.reshape(-1)[0]


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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
        generation = await self.generate(request, target)
        yield Delta(text=generation.text, finish_reason=generation.finish_reason, usage=generation.usage)

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

    async def _infer(self, target: Target, inputs: list[InferInput], outputs: list[InferRequestedOutput]) -> Any:
        if self._client is None:
            raise UpstreamError("unavailable", f"upstream {self.name!r} is not started")
        try:
            async with asyncio.timeout(target.timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            message = f"triton upstream {self.name!r}: no free slot within {target.timeout_s:g}s"
            raise UpstreamError("timeout", f"{message} ({self.max_in_flight} requests in flight)") from None
        try:
            return await self._client.infer(target.model, inputs, outputs=outputs, client_timeout=target.timeout_s)
        except InferenceServerException as exc:
            raise _triton_error(self.name, exc) from None
        finally:
            self._slots.release()


_GRPC_STATUS = {
    "StatusCode.INVALID_ARGUMENT": 400,
    "StatusCode.NOT_FOUND": 404,
    "StatusCode.RESOURCE_EXHAUSTED": 429,
    "StatusCode.INTERNAL": 500,
    "StatusCode.UNIMPLEMENTED": 501,
}


def _triton_error(name: str, exc: InferenceServerException) -> UpstreamError:
    status = str(exc.status() or "")
    detail = str(exc.message() or "")[:300]
    if status == "StatusCode.UNAVAILABLE":
        return UpstreamError("connect", f"cannot reach triton upstream {name!r}")
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return UpstreamError("timeout", f"triton upstream {name!r} timed out")
    code = _GRPC_STATUS.get(status, 502)
    return UpstreamError("status", f"triton upstream {name!r}: {detail or status}", status=code)
