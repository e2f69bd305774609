"""The Triton face of the models: tensor names, batching, and request <-> model conversion.

Tensors (every one has a leading batch dimension; shapes below are per row):

``llm``          in:  prompt BYTES[1]; optional max_tokens INT32[1], temperature FP32[1], top_p FP32[1],
                      seed INT64[1] (absent or < 0: not reproducible), stop BYTES[1] (a JSON array of strings)
                 out: text BYTES[1], prompt_tokens INT32[1], completion_tokens INT32[1], finish_reason BYTES[1]
``llm_stream``   the same inputs; decoupled: one response per text delta (finish_reason ""), then a final
                 response with empty text, the token counts and the finish reason
``embedder``     in:  text BYTES[1];  out: embedding FP32[dimension] (unit length), prompt_tokens INT32[1]
``judge``        ``llm``'s tensors (so the gateway routes to it like to ``llm``): the rendered rubric in, its
                 verdict as text out (``models/judge.py``); sampling inputs are accepted and ignored

Triton's dynamic batcher gathers concurrent requests; one model execution then decodes all their rows
together. PyTriton answers an execution with a single error, so a request with invalid parameters
fails the batch it landed in: callers validate first (the inference service does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pytriton.exceptions import PyTritonBadParameterError
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.proxy.types import Request
from pytriton.triton import Triton

from llmops_model_server.config import ModelServerSettings
from llmops_model_server.models.embedder import Embedder
from llmops_model_server.models.generation import GenerationRequest, GenerationResult, TextGenerator
from llmops_model_server.models.judge import RubricJudge
from llmops_model_server.models.sampling import SamplingParams

__all__ = ["LLM_INPUTS", "LLM_OUTPUTS", "bind_models", "embed_infer", "judge_infer", "llm_infer", "llm_stream_infer"]

LLM_MODEL, LLM_STREAM_MODEL, EMBEDDER_MODEL, JUDGE_MODEL = "llm", "llm_stream", "embedder", "judge"
MAX_STOP_SEQUENCES = 16
Arrays = dict[str, npt.NDArray[Any]]
Responses = list[Arrays]

LLM_INPUTS = [
    Tensor(name="prompt", dtype=bytes, shape=(1,)),
    Tensor(name="max_tokens", dtype=np.int32, shape=(1,), optional=True),
    Tensor(name="temperature", dtype=np.float32, shape=(1,), optional=True),
    Tensor(name="top_p", dtype=np.float32, shape=(1,), optional=True),
    Tensor(name="seed", dtype=np.int64, shape=(1,), optional=True),
    Tensor(name="stop", dtype=bytes, shape=(1,), optional=True),
]
LLM_OUTPUTS = [
    Tensor(name="text", dtype=bytes, shape=(1,)),
    Tensor(name="prompt_tokens", dtype=np.int32, shape=(1,)),
    Tensor(name="completion_tokens", dtype=np.int32, shape=(1,)),
    Tensor(name="finish_reason", dtype=bytes, shape=(1,)),
]


def _rows(request: Request) -> int:
    return int(np.asarray(request["prompt"]).size)


def _column(request: Request, name: str, row: int) -> Any:
    """Row ``row`` of a ``[n, 1]`` input (or the ``[1]`` input of a model without batching)."""
    if name not in request.data:
        return None
    return np.asarray(request[name]).reshape(-1)[row]


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _stops(raw: Any) -> tuple[str, ...]:
    if raw is None or not _text(raw).strip():
        return ()
    try:
        stops = json.loads(_text(raw))
    except json.JSONDecodeError as exc:
        raise PyTritonBadParameterError(f"stop must be a JSON array of strings: {exc}") from None
    if isinstance(stops, str):
        stops = [stops]
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise PyTritonBadParameterError("stop must be a JSON array of non-empty strings")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise PyTritonBadParameterError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
    return tuple(stops)


def parse_generation(request: Request, row: int, max_tokens_limit: int) -> GenerationRequest:
    """One row of an ``llm`` request as a :class:`GenerationRequest` (defaults: 64 tokens, T=1, top_p=1)."""
    max_tokens = _column(request, "max_tokens", row)
    temperature = _column(request, "temperature", row)
    top_p = _column(request, "top_p", row)
    seed = _column(request, "seed", row)
    try:
        return GenerationRequest(
            prompt=_text(_column(request, "prompt", row)),
            max_tokens=min(int(max_tokens) if max_tokens is not None else 64, max_tokens_limit),
            sampling=SamplingParams(
                temperature=float(temperature) if temperature is not None else 1.0,
                top_p=float(top_p) if top_p is not None else 1.0,
                seed=int(seed) if seed is not None and int(seed) >= 0 else None,
            ),
            stop=_stops(_column(request, "stop", row)),
        )
    except ValueError as exc:
        raise PyTritonBadParameterError(str(exc)) from None


def _result_arrays(results: Sequence[GenerationResult]) -> Arrays:
    return {
        "text": np.array([[r.text.encode()] for r in results], dtype=object),
        "prompt_tokens": np.array([[r.prompt_tokens] for r in results], dtype=np.int32),
        "completion_tokens": np.array([[r.completion_tokens] for r in results], dtype=np.int32),
        "finish_reason": np.array([[r.finish_reason.encode()] for r in results], dtype=object),
    }


def _unbatched(arrays: Arrays) -> Arrays:
    """Drop the batch dimension (``llm_stream`` runs without batching: tensors are ``[1]``)."""
    return {name: value[0] for name, value in arrays.items()}


def llm_infer(generator: TextGenerator, max_tokens_limit: int) -> Callable[[list[Request]], Responses]:
    """Infer function for ``llm``: every row of every batched request decoded in one batch."""

    def infer(requests: list[Request]) -> Responses:
        parsed = [[parse_generation(r, i, max_tokens_limit) for i in range(_rows(r))] for r in requests]
        results = iter(generator.generate([g for rows in parsed for g in rows]))
        return [_result_arrays([next(results) for _ in rows]) for rows in parsed]

    return infer


def llm_stream_infer(generator: TextGenerator, max_tokens_limit: int) -> Callable[[list[Request]], Iterator[Responses]]:
    """Infer function for the decoupled ``llm_stream``: text deltas as they are decoded, then the totals."""

    def infer(requests: list[Request]) -> Iterator[Responses]:
        for request in requests:
            if _rows(request) != 1:
                raise PyTritonBadParameterError("llm_stream takes one prompt per request")
            stream = generator.stream(parse_generation(request, 0, max_tokens_limit))
            while True:
                try:
                    delta = next(stream)
                except StopIteration as done:
                    result: GenerationResult = done.value
                    yield [_unbatched(_result_arrays([result]) | {"text": np.array([[b""]], dtype=object)})]
                    break
                partial = GenerationResult(delta, 0, 0, "stop")
                yield [_unbatched(_result_arrays([partial]) | {"finish_reason": np.array([[b""]], dtype=object)})]

    return infer


def embed_infer(embedder: Embedder) -> Callable[[list[Request]], Responses]:
    """Infer function for ``embedder``: all texts of the batch embedded together."""

    def infer(requests: list[Request]) -> Responses:
        texts = [[_text(v) for v in r["text"].reshape(-1)] for r in requests]
        vectors, counts = embedder.embed_counted([t for group in texts for t in group])
        out, start = [], 0
        for group in texts:
            end = start + len(group)
            out.append({"embedding": vectors[start:end], "prompt_tokens": counts[start:end].reshape(-1, 1)})
            start = end
        return out

    return infer


def judge_infer(judge: RubricJudge) -> Callable[[list[Request]], Responses]:
    """Infer function for ``judge``: every rubric of the batch judged with one embedder pass."""

    def infer(requests: list[Request]) -> Responses:
        prompts = [[_text(v) for v in np.asarray(r["prompt"]).reshape(-1)] for r in requests]
        verdicts = iter(judge.judge([p for rows in prompts for p in rows]))
        results = [[next(verdicts) for _ in rows] for rows in prompts]
        return [
            _result_arrays([GenerationResult(v.text, v.prompt_tokens, v.completion_tokens, "stop") for v in rows])
            for rows in results
        ]

    return infer


def bind_models(triton: Triton, generator: TextGenerator, embedder: Embedder, settings: ModelServerSettings) -> None:
    """Register ``llm``, ``llm_stream``, ``embedder`` and ``judge`` with their batching policies."""
    limit = settings.llm_max_tokens
    triton.bind(
        model_name=LLM_MODEL,
        infer_func=llm_infer(generator, limit),
        inputs=LLM_INPUTS,
        outputs=LLM_OUTPUTS,
        config=ModelConfig(
            max_batch_size=settings.llm_max_batch_size,
            batcher=DynamicBatcher(max_queue_delay_microseconds=settings.llm_queue_delay_us),
        ),
        strict=True,
    )
    triton.bind(
        model_name=LLM_STREAM_MODEL,
        infer_func=llm_stream_infer(generator, limit),
        inputs=LLM_INPUTS,
        outputs=LLM_OUTPUTS,
        config=ModelConfig(batching=False, decoupled=True),
        strict=True,
    )
    triton.bind(
        model_name=EMBEDDER_MODEL,
        infer_func=embed_infer(embedder),
        inputs=[Tensor(name="text", dtype=bytes, shape=(1,))],
        outputs=[
            Tensor(name="embedding", dtype=np.float32, shape=(embedder.dimension,)),
            Tensor(name="prompt_tokens", dtype=np.int32, shape=(1,)),
        ],
        config=ModelConfig(
            max_batch_size=settings.embedder_max_batch_size,
            batcher=DynamicBatcher(max_queue_delay_microseconds=settings.embedder_queue_delay_us),
        ),
        strict=True,
    )
    triton.bind(
        model_name=JUDGE_MODEL,
        infer_func=judge_infer(RubricJudge(embedder)),
        inputs=LLM_INPUTS,
        outputs=LLM_OUTPUTS,
        config=ModelConfig(
            max_batch_size=settings.embedder_max_batch_size,
            batcher=DynamicBatcher(max_queue_delay_microseconds=settings.embedder_queue_delay_us),
        ),
        strict=True,
    )
