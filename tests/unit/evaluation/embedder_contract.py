"""What every :class:`~llmops_evaluation.semantic.Embedder` must do; run against the fake (unit tests) and the
gateway adapter over the real gateway and model server (tests/integration/evaluation)."""

from __future__ import annotations

import math
from typing import Any

import pytest


class EmbedderContract:
    """Subclasses provide an ``embedder`` fixture."""

    async def test_one_vector_per_text_in_order_of_one_dimension(self, embedder: Any) -> None:
        texts = ["Where is my parcel?", "The invoice was sent yesterday.", "Where is my parcel?"]
        vectors = await embedder.embed(texts)
        assert len(vectors) == 3
        assert len({len(v) for v in vectors}) == 1
        assert vectors[0] == pytest.approx(vectors[2], abs=1e-6)
        assert vectors[0] != pytest.approx(vectors[1], abs=1e-3)

    async def test_vectors_are_finite_and_the_same_text_gets_the_same_vector(self, embedder: Any) -> None:
        [first] = await embedder.embed(["The museum is closed on Mondays."])
        [again] = await embedder.embed(["The museum is closed on Mondays."])
        assert all(math.isfinite(x) for x in first)
        assert first == pytest.approx(again, abs=1e-6)

    async def test_more_texts_than_one_request_holds(self, embedder: Any) -> None:
        texts = [f"Sentence number {i} of many." for i in range(130)]
        vectors = await embedder.embed(texts)
        assert len(vectors) == 130
        [last] = await embedder.embed([texts[-1]])
        assert vectors[-1] == pytest.approx(last, abs=1e-5)
