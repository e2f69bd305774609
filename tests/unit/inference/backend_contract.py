"""The behaviour every gateway Backend must have, as one suite run against each implementation.

Subclass :class:`BackendContract` and provide ``backend`` (started, its upstream up), ``down`` (started, its
upstream unreachable or failing), and the targets ``generation_target``, ``embedding_target`` and
``down_target``. test_fake_backend.py runs it on :class:`~llmops_inference.adapters.memory.FakeBackend`;
tests/integration/inference/test_backend_contract.py on :class:`OpenAIUpstream` against a served upstream,
tests/integration/model_server/test_backend_contract.py on :class:`TritonBackend` against the model server.
"""

from __future__ import annotations

import pytest
from llmops_inference.domain import GenerationRequest, Params, UpstreamError
from llmops_inference.ports import Backend
from llmops_inference.routing_table import Target

CHAT = GenerationRequest(
    kind="chat", params=Params(max_tokens=8, temperature=0.0), messages=({"role": "user", "content": "Hello"},)
)
COMPLETION = GenerationRequest(kind="completion", params=Params(max_tokens=8, temperature=0.0), prompt="Once upon")


class BackendContract:
    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError

    @pytest.fixture
    def down(self) -> Backend:
        raise NotImplementedError

    @pytest.fixture
    def generation_target(self) -> Target:
        raise NotImplementedError

    @pytest.fixture
    def embedding_target(self) -> Target:
        raise NotImplementedError

    @pytest.fixture
    def down_target(self) -> Target:
        raise NotImplementedError

    @pytest.mark.parametrize("request_", [CHAT, COMPLETION], ids=["chat", "completion"])
    async def test_generate_answers_text_with_a_finish_reason(
        self, backend: Backend, generation_target: Target, request_: GenerationRequest
    ) -> None:
        generation = await backend.generate(request_, generation_target)
        assert isinstance(generation.text, str)
        assert generation.finish_reason in {"stop", "length"}
        if generation.usage is not None:
            assert generation.usage.prompt_tokens > 0
            assert generation.usage.completion_tokens >= 0

    async def test_a_stream_ends_with_its_finish_reason(self, backend: Backend, generation_target: Target) -> None:
        deltas = [delta async for delta in backend.stream(CHAT, generation_target)]
        ends = [index for index, delta in enumerate(deltas) if delta.finish_reason]
        assert ends, "no delta carried a finish reason"
        assert deltas[ends[0]].finish_reason in {"stop", "length"}
        assert not any(delta.text for delta in deltas[ends[0] + 1 :])  # only usage may follow the end

    async def test_embed_answers_one_vector_per_text_in_order(self, backend: Backend, embedding_target: Target) -> None:
        texts = ["the first text", "a second, longer text than the first", "third"]
        embeddings = await backend.embed(texts, embedding_target, None)
        assert len(embeddings.vectors) == len(texts)
        assert len({len(v) for v in embeddings.vectors}) == 1
        assert all(isinstance(x, float) for v in embeddings.vectors for x in v)
        alone = await backend.embed([texts[1]], embedding_target, None)
        assert alone.vectors[0] == pytest.approx(embeddings.vectors[1], rel=1e-3, abs=1e-4)

    async def test_probe_is_true_when_the_upstream_answers(self, backend: Backend) -> None:
        assert await backend.probe() is True

    async def test_probe_is_false_without_raising_when_it_does_not(self, down: Backend) -> None:
        assert await down.probe() is False

    async def test_a_failing_upstream_raises_upstream_error_only(self, down: Backend, down_target: Target) -> None:
        with pytest.raises(UpstreamError):
            await down.generate(CHAT, down_target)
        with pytest.raises(UpstreamError):
            _ = [delta async for delta in down.stream(CHAT, down_target)]
        with pytest.raises(UpstreamError):
            await down.embed(["x"], down_target, None)
