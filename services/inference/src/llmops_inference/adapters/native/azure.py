"""Azure OpenAI: OpenAI's protocol at deployment URLs with an ``api-version`` and an ``api-key`` header.

The route's ``model`` is the deployment's name; bodies, answers, streams and errors are OpenAI's and pass
unchanged (Azure's ``prompt_filter_results`` and ``content_filter`` finish reason included).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from llmops_inference.adapters.http_transport import HttpAnswer
from llmops_inference.adapters.native.common import unsupported_endpoint
from llmops_inference.adapters.native.transport import ProviderCall, StreamTranslator

__all__ = ["ENDPOINTS", "AzureDialect"]

ENDPOINTS = frozenset({"chat/completions", "completions", "embeddings"})


class AzureDialect:
    """``<base_url>/openai/deployments/<deployment>/<endpoint>?api-version=<version>``."""

    api = "Azure OpenAI"

    def __init__(self, version: str) -> None:
        self._query = urlencode({"api-version": version})

    def headers(self, key: str | None) -> dict[str, str]:
        return {"api-key": key} if key else {}

    def call(self, base_url: str, endpoint: str, body: dict[str, Any]) -> ProviderCall:
        if endpoint not in ENDPOINTS:
            raise unsupported_endpoint(endpoint, "Azure OpenAI serves chat completions, completions and embeddings")
        deployment = quote(str(body["model"]), safe="")
        return ProviderCall(f"{base_url}/openai/deployments/{deployment}/{endpoint}?{self._query}", None)

    def answer(self, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return data  # never called: ProviderCall.body is None, the answer passes unchanged

    def stream(self, body: dict[str, Any]) -> StreamTranslator:
        raise NotImplementedError("Azure's stream is OpenAI's and passes unchanged")

    def error(self, answer: HttpAnswer) -> HttpAnswer:
        return answer
