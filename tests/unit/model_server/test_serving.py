"""The Triton binding: request tensors -> generation/embedding requests -> response tensors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from llmops_model_server.models.generation import GenerationRequest, GenerationResult
from llmops_model_server.serving import embed_infer, llm_infer, llm_stream_infer, parse_generation
from pytriton.exceptions import PyTritonBadParameterError
from pytriton.proxy.types import Request


def request(rows: Sequence[str], **columns: Any) -> Request:
    data = {"prompt": np.array([[p.encode()] for p in rows], dtype=object)}
    for name, values in columns.items():
        dtype = object if name == "stop" else {"max_tokens": np.int32, "seed": np.int64}.get(name, np.float32)
        data[name] = np.array([[v] for v in values], dtype=dtype)
    return Request(data=data)


class FakeGenerator:
    """Records what it was asked and answers with the prompt reversed."""

    def __init__(self) -> None:
        self.calls: list[list[GenerationRequest]] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.calls.append(list(requests))
        return [GenerationResult(r.prompt[::-1], len(r.prompt), r.max_tokens, "length") for r in requests]

    def stream(self, request: GenerationRequest) -> Any:
        yield "ab"
        yield "c"
        return GenerationResult("abc", 3, 2, "stop")


def test_defaults_when_optional_inputs_are_absent() -> None:
    parsed = parse_generation(request(["hi"]), 0, max_tokens_limit=256)
    assert (parsed.prompt, parsed.max_tokens, parsed.stop) == ("hi", 64, ())
    assert (parsed.sampling.temperature, parsed.sampling.top_p, parsed.sampling.seed) == (1.0, 1.0, None)


def test_every_parameter_is_read_per_row() -> None:
    r = request(
        ["a", "b"],
        max_tokens=[5, 500],
        temperature=[0.0, 0.7],
        top_p=[0.9, 1.0],
        seed=[3, -1],
        stop=[json.dumps(["\n", "."]).encode(), b""],
    )
    first, second = parse_generation(r, 0, 256), parse_generation(r, 1, 256)
    assert (first.max_tokens, first.sampling.temperature, first.sampling.seed, first.stop) == (5, 0.0, 3, ("\n", "."))
    assert first.sampling.top_p == pytest.approx(0.9)
    assert (second.max_tokens, second.sampling.seed, second.stop) == (256, None, ())  # capped; negative seed = none


@pytest.mark.parametrize(
    "columns",
    [
        {"temperature": [-1.0]},
        {"top_p": [0.0]},
        {"max_tokens": [-3]},
        {"stop": [b"not json"]},
        {"stop": [b"[1, 2]"]},
        {"stop": [b'[""]']},
        {"stop": [json.dumps(["x"] * 17).encode()]},
    ],
)
def test_bad_parameters_are_bad_parameter_errors(columns: dict[str, Any]) -> None:
    with pytest.raises(PyTritonBadParameterError):
        parse_generation(request(["hi"], **columns), 0, 256)


def test_a_single_stop_string_is_accepted() -> None:
    assert parse_generation(request(["hi"], stop=[b'"\\n"']), 0, 256).stop == ("\n",)


def test_llm_batches_every_row_of_every_request_in_one_call() -> None:
    fake = FakeGenerator()
    responses = llm_infer(fake, 256)([request(["abc", "de"]), request(["xyz"], max_tokens=[3])])  # type: ignore[arg-type]
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 3
    assert [list(r["text"].reshape(-1)) for r in responses] == [[b"cba", b"ed"], [b"zyx"]]
    assert responses[0]["prompt_tokens"].dtype == np.int32 and responses[0]["prompt_tokens"].shape == (2, 1)
    assert responses[1]["completion_tokens"].tolist() == [[3]]
    assert responses[1]["finish_reason"].tolist() == [[b"length"]]


def test_stream_sends_deltas_then_the_totals() -> None:
    unbatched = Request(data={"prompt": np.array([b"hi"], dtype=object)})
    responses = [r[0] for r in llm_stream_infer(FakeGenerator(), 256)([unbatched])]  # type: ignore[arg-type]
    assert [r["text"].tolist() for r in responses] == [[b"ab"], [b"c"], [b""]]
    assert [r["finish_reason"].tolist() for r in responses] == [[b""], [b""], [b"stop"]]
    assert responses[-1]["completion_tokens"].tolist() == [2]


class FakeEmbedder:
    dimension = 3

    def embed_counted(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        vectors = np.array([[len(t), 0.0, 1.0] for t in texts], dtype=np.float32)
        return vectors, np.array([len(t) + 2 for t in texts], dtype=np.int32)


def test_embedder_splits_the_batch_back_per_request() -> None:
    infer = embed_infer(FakeEmbedder())  # type: ignore[arg-type]
    out = infer(
        [
            Request(data={"text": np.array([[b"a"], [b"bb"]], dtype=object)}),
            Request(data={"text": np.array([[b"ccc"]], dtype=object)}),
        ]
    )
    assert [o["embedding"][:, 0].tolist() for o in out] == [[1.0, 2.0], [3.0]]
    assert [o["prompt_tokens"].tolist() for o in out] == [[[3], [4]], [[5]]]
