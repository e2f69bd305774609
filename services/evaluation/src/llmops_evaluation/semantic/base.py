"""The port of semantic evaluators: texts in, embedding vectors out (the model server's ``embedder``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["Embedder"]


class Embedder(Protocol):
    """Embeddings of texts, one vector per text in order, all of one dimension.

    The service's adapter (:class:`~llmops_evaluation.semantic.gateway.GatewayEmbedder`) asks the gateway's
    ``/v1/embeddings`` with the service key (platform traffic); unit tests use a fake. Raising is a failure of
    the evaluator on that call (recorded, counted), never a score.
    """

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text of ``texts`` (non-empty, bounded by the caller)."""
        ...
