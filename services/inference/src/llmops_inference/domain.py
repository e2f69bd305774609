"""What flows between the handlers, the router and the backends: plain, provider-neutral values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Delta", "Embeddings", "Generation", "GenerationRequest", "Params", "UpstreamError", "Usage"]

UpstreamFailure = Literal["connect", "timeout", "status", "protocol", "unavailable", "adapter"]
"""``adapter``: the backend adapter raised something other than an :class:`UpstreamError` (a bug, or a client
library's exception it did not translate); the router turns it into one (see ``router.adapter_failure``)."""


@dataclass(frozen=True, slots=True)
class Params:
    """Sampling parameters as a backend receives them (``max_tokens`` always set by the gateway)."""

    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """OpenAI-only parameters the gateway forwards (penalties); Triton ignores them."""


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One generation: a chat (``messages`` in OpenAI's wire shape) or a text completion (``prompt``)."""

    kind: Literal["chat", "completion"]
    params: Params
    messages: tuple[dict[str, Any], ...] = ()
    prompt: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Generation:
    """A finished, non-streamed answer."""

    text: str
    finish_reason: str | None
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class Delta:
    """One piece of a streamed answer: text, and on the last pieces the finish reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


class UpstreamError(Exception):
    """An upstream failed: unreachable, too slow, answered an error status, answered nonsense, or its adapter
    raised unexpectedly (treated like an upstream 500: not retried, falls back, counts against the breaker).

    ``message`` is safe to show a client and to record: adapters never put URLs with credentials or keys in it.
    """

    def __init__(
        self, kind: UpstreamFailure, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Safe to send again: the upstream never started on it (connect) or said it was briefly unable to."""
        return self.kind == "connect" or (self.kind == "status" and self.status in {502, 503, 504})

    @property
    def upstream_fault(self) -> bool:
        """Counts against the upstream's circuit breaker (a 4xx is the request's fault, not the upstream's)."""
        if self.kind == "status":
            return self.status is not None and self.status >= 500
        return True

    @property
    def falls_back(self) -> bool:
        """Worth trying the next target: anything but a request the upstream judged invalid."""
        return not (self.kind == "status" and self.status in {400, 413, 422})
