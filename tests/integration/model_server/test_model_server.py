"""The model server over Triton's HTTP and gRPC protocols: health, generation, embeddings, batching,
streaming, metrics and a server that is not there."""

from __future__ import annotations

import asyncio
import json
import queue
import time
import urllib.request
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
import tritonclient.http as httpclient
from llmops_kit.infra import free_port
from llmops_model_server.models.tokenizer import TextTokenizer
from tritonclient.utils import InferenceServerException

from tests.integration.model_server.conftest import ADMIN_TOKEN, ModelServer

pytestmark = pytest.mark.integration

PROMPT = "The Light of the Sun"
MODELS = ("llm", "llm_stream", "embedder", "judge")


def llm_inputs(module: Any, prompt: str, batched: bool = True, **params: Any) -> list[Any]:
    """Input tensors for ``llm`` (``module`` is tritonclient.http or .grpc)."""
    spec = {
        "max_tokens": ("INT32", np.int32),
        "temperature": ("FP32", np.float32),
        "top_p": ("FP32", np.float32),
        "seed": ("INT64", np.int64),
        "stop": ("BYTES", object),
    }
    values: dict[str, tuple[str, np.ndarray]] = {"prompt": ("BYTES", np.array([prompt.encode()], dtype=object))}
    for name, value in params.items():
        datatype, dtype = spec[name]
        raw = json.dumps(value).encode() if name == "stop" else value
        values[name] = (datatype, np.array([raw], dtype=dtype))
    tensors = []
    for name, (datatype, array) in values.items():
        array = array.reshape(1, 1) if batched else array
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def outputs(result: Any) -> dict[str, Any]:
    row = {name: result.as_numpy(name).reshape(-1)[0] for name in ("text", "prompt_tokens", "completion_tokens")}
    row["finish_reason"] = result.as_numpy("finish_reason").reshape(-1)[0].decode()
    row["text"] = row["text"].decode()
    return row


@pytest.fixture(scope="module")
def http(model_server: ModelServer) -> Any:
    client = httpclient.InferenceServerClient(model_server.http, concurrency=4)
    yield client
    client.close()


@pytest.fixture(scope="module")
def grpc(model_server: ModelServer) -> Any:
    client = grpcclient.InferenceServerClient(model_server.grpc)
    yield client
    client.close()


def generate(client: Any, module: Any, prompt: str = PROMPT, **params: Any) -> dict[str, Any]:
    return outputs(client.infer("llm", llm_inputs(module, prompt, **params)))


def test_live_and_ready_on_both_protocols(http: Any, grpc: Any) -> None:
    assert http.is_server_live() and http.is_server_ready()
    assert grpc.is_server_live() and grpc.is_server_ready()
    for model in MODELS:
        assert http.is_model_ready(model) and grpc.is_model_ready(model)


def test_batching_models_have_a_dynamic_batcher(http: Any) -> None:
    for model in ("llm", "embedder", "judge"):
        config = http.get_model_config(model)
        assert config["max_batch_size"] > 1
        assert "dynamic_batching" in config
    assert http.get_model_config("llm_stream")["model_transaction_policy"]["decoupled"] is True


def test_max_tokens_bounds_the_completion(http: Any) -> None:
    result = generate(http, httpclient, max_tokens=7, temperature=1.0, seed=1)
    assert result["completion_tokens"] <= 7
    assert result["finish_reason"] == "length" or result["completion_tokens"] < 7


def test_prompt_tokens_are_counted_with_the_served_tokenizer(http: Any, llm_tokenizer: TextTokenizer) -> None:
    result = generate(http, httpclient, max_tokens=3)
    assert result["prompt_tokens"] == len(llm_tokenizer.encode(PROMPT))


def test_a_seed_reproduces_the_completion_on_both_protocols(http: Any, grpc: Any) -> None:
    params = {"max_tokens": 24, "temperature": 0.9, "top_p": 0.95, "seed": 1234}
    over_http = generate(http, httpclient, **params)
    assert generate(grpc, grpcclient, **params) == over_http
    assert generate(http, httpclient, **(params | {"seed": 4321}))["text"] != over_http["text"]


def test_generation_is_trained_text(http: Any) -> None:
    result = generate(http, httpclient, max_tokens=40, temperature=0.0)
    words = result["text"].split()
    assert len(words) >= 5
    common = {"the", "of", "and", "which", "in", "to", "is", "be", "that", "by", "with", "are"}
    assert sum(w.lower().strip(".,;:") in common for w in words) >= 2, result["text"]


def test_stop_sequences_end_the_completion(http: Any) -> None:
    free = generate(http, httpclient, max_tokens=30, temperature=0.0)
    stop = free["text"].split()[2]
    stopped = generate(http, httpclient, max_tokens=30, temperature=0.0, stop=[stop])
    assert stopped["finish_reason"] == "stop"
    assert stopped["text"] == free["text"][: free["text"].find(stop)]
    assert stopped["completion_tokens"] < free["completion_tokens"]


def test_invalid_parameters_are_rejected(http: Any) -> None:
    with pytest.raises(InferenceServerException, match="temperature"):
        generate(http, httpclient, temperature=-1.0)
    with pytest.raises(InferenceServerException, match="stop"):
        http.infer("llm", [*llm_inputs(httpclient, PROMPT)[:1], _raw_stop(b"{not json")])


def _raw_stop(raw: bytes) -> Any:
    tensor = httpclient.InferInput("stop", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[raw]], dtype=object))
    return tensor


def test_embeddings_are_unit_vectors_that_know_paraphrases(http: Any) -> None:
    texts = [b"A man is eating food.", b"A man is eating a piece of bread.", b"The girl is carrying a baby."]
    tensor = httpclient.InferInput("text", [3, 1], "BYTES")
    tensor.set_data_from_numpy(np.array(texts, dtype=object).reshape(3, 1))
    result = http.infer("embedder", [tensor])
    vectors = result.as_numpy("embedding")
    assert result.as_numpy("prompt_tokens").reshape(-1).tolist() == [8, 11, 9]
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_streaming_delivers_the_same_text_in_pieces(http: Any, grpc: Any) -> None:
    params = {"max_tokens": 20, "temperature": 0.8, "seed": 99}
    whole = generate(http, httpclient, **params)
    responses: queue.Queue[tuple[Any, Any]] = queue.Queue()
    grpc.start_stream(callback=lambda result, error: responses.put((result, error)))
    try:
        grpc.async_stream_infer("llm_stream", llm_inputs(grpcclient, PROMPT, batched=False, **params))
        pieces: list[dict[str, Any]] = []
        while not pieces or not pieces[-1]["finish_reason"]:
            result, error = responses.get(timeout=60)
            assert error is None, error
            pieces.append(outputs(result))
    finally:
        grpc.stop_stream()
    assert len(pieces) > 2
    assert "".join(p["text"] for p in pieces) == whole["text"]
    assert (pieces[-1]["completion_tokens"], pieces[-1]["finish_reason"]) == (
        whole["completion_tokens"],
        whole["finish_reason"],
    )


def _counts(http: Any) -> tuple[int, int]:
    stats = http.get_inference_statistics("llm", headers={"triton-access-token": ADMIN_TOKEN})
    model = stats["model_stats"][0]
    return int(model["inference_count"]), int(model["execution_count"])


def _settled_counts(http: Any, timeout_s: float = 10.0) -> tuple[int, int]:
    """``_counts`` once two reads 0.2 s apart agree: Triton updates its statistics after it has answered."""
    deadline = time.monotonic() + timeout_s
    previous = _counts(http)
    while True:
        time.sleep(0.2)
        current = _counts(http)
        if current == previous or time.monotonic() > deadline:
            return current
        previous = current


def test_concurrent_requests_are_batched_together(model_server: ModelServer, http: Any) -> None:
    before = _settled_counts(http)

    async def burst() -> list[dict[str, Any]]:
        async with grpcaio.InferenceServerClient(model_server.grpc) as client:
            calls = [
                client.infer("llm", llm_inputs(grpcclient, f"{PROMPT} {i}", max_tokens=16, temperature=0.7, seed=i))
                for i in range(12)
            ]
            return [outputs(r) for r in await asyncio.gather(*calls)]

    results = asyncio.run(burst())
    after = _settled_counts(http)
    inferences, executions = after[0] - before[0], after[1] - before[1]
    assert len(results) == 12 and all(r["completion_tokens"] > 0 for r in results)
    assert inferences == 12
    assert executions < inferences, f"{inferences} requests ran in {executions} executions: no batching"


def test_statistics_need_the_admin_token(http: Any) -> None:
    with pytest.raises(InferenceServerException, match="403"):
        http.get_inference_statistics("llm")


def test_metrics_endpoint_counts_successful_requests(model_server: ModelServer, http: Any) -> None:
    generate(http, httpclient, max_tokens=2)
    with urllib.request.urlopen(model_server.metrics_url, timeout=10) as response:
        text = response.read().decode()
    lines = [line for line in text.splitlines() if line.startswith('nv_inference_request_success{model="llm"')]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 1


def test_a_server_that_is_not_there_fails_fast() -> None:
    port = free_port()
    http_client = httpclient.InferenceServerClient(f"127.0.0.1:{port}", connection_timeout=2, network_timeout=2)
    with pytest.raises((InferenceServerException, ConnectionError, OSError)):
        http_client.is_server_live()
    grpc_client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    with pytest.raises(InferenceServerException):
        grpc_client.is_server_live(client_timeout=2)
