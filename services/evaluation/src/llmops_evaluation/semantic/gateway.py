"""The :class:`~llmops_evaluation.semantic.base.Embedder` of the service: the gateway's ``/v1/embeddings``.

Requests go through the kit's :class:`~llmops_kit.platform_client.GatewayClient` with the service key, for the
tenant whose call is judged, so the gateway records them as that tenant's platform traffic (never judged
themselves). The gateway's model ``local-embedder`` routes to the model server's Triton ``embedder``
(all-MiniLM-L6-v2, 384 dimensions, texts cut at 256 tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

from llmops_kit.platform_client import GatewayClient

__all__ = ["DEFAULT_EMBEDDING_MODEL", "GatewayEmbedder"]

DEFAULT_EMBEDDING_MODEL = "local-embedder"
_PER_REQUEST = 64
"""Texts per request: under the gateway's own limit (256), and small enough to retry cheaply."""


class GatewayEmbedder:
    """Embeddings through the gateway, for one tenant and one model, ``_PER_REQUEST`` texts per request."""

    def __init__(self, gateway: GatewayClient, tenant: str, model: str = DEFAULT_EMBEDDING_MODEL) -> None:
        self._gateway = gateway
        self._tenant = tenant
        self._model = model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _PER_REQUEST):
            chunk = list(texts[start : start + _PER_REQUEST])
            got = await self._gateway.embeddings(self._tenant, self._model, chunk)
            if len(got) != len(chunk):
                raise ValueError(f"the gateway returned {len(got)} embeddings for {len(chunk)} texts")
            vectors.extend(got)
        return vectors
