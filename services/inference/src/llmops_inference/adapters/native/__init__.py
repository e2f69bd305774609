"""Native upstreams behind the OpenAI front (ADR 0018): Anthropic's Messages API, Google's Gemini API and Azure
OpenAI, each a :class:`~llmops_inference.adapters.native.transport.Dialect` under the OpenAI adapter.
"""

from __future__ import annotations

from llmops_inference.adapters.http_transport import AiohttpTransport, HttpTransport
from llmops_inference.adapters.native.anthropic import AnthropicDialect
from llmops_inference.adapters.native.azure import AzureDialect
from llmops_inference.adapters.native.gemini import GeminiDialect
from llmops_inference.adapters.native.transport import Dialect, NativeTransport
from llmops_inference.adapters.openai_upstream import OpenAIUpstream
from llmops_inference.routing_table import NATIVE_BACKENDS, Upstream

__all__ = ["NATIVE_BACKENDS", "dialect_for", "native_upstream"]


def dialect_for(kind: str, upstream: Upstream) -> Dialect:
    """The dialect of a native backend kind (``anthropic``, ``gemini``, ``azure``)."""
    if kind == "anthropic":
        return AnthropicDialect(upstream.api_version)
    if kind == "gemini":
        return GeminiDialect(upstream.api_version)
    if kind == "azure" and upstream.api_version:
        return AzureDialect(upstream.api_version)
    raise ValueError(f"upstream {upstream.name!r}: no native dialect for backend {kind!r}")


def native_upstream(kind: str, upstream: Upstream, *, inner: HttpTransport | None = None) -> OpenAIUpstream:
    """The OpenAI adapter over ``upstream``, speaking ``kind``'s protocol on the wire (``inner`` sends it)."""
    transport = inner or AiohttpTransport(max_connections=upstream.max_connections)
    return OpenAIUpstream(
        upstream, transport=NativeTransport(dialect_for(kind, upstream), transport, upstream.base_url)
    )
