"""What flows between the handlers, the router and the backends: plain, provider-neutral values."""

from __future__ import annotations

from collections.abc import Mapping
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
    """Every other field of the request the caller sent (tools, response_format, n, logprobs, penalties, fields
    the gateway does not know...), exactly as sent: an OpenAI-compatible upstream gets them unchanged, a backend
    that cannot honour one refuses the call (400 naming it), none is dropped (ADR 0016)."""


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
    details: Mapping[str, Any] | None = None
    """The upstream's other usage fields in OpenAI's shape (``prompt_tokens_details``,
    ``completion_tokens_details``), relayed to the client as they came."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cached_tokens(self) -> int | None:
        """Prompt tokens read from the provider's cache (``prompt_tokens_details.cached_tokens``)."""
        return _detail(self.details, "prompt_tokens_details", "cached_tokens")

    @property
    def cache_write_tokens(self) -> int | None:
        """Prompt tokens written to the provider's cache (``prompt_tokens_details.cache_write_tokens``: Anthropic's
        ``cache_creation_input_tokens`` as the native upstreams report them, ADR 0018)."""
        return _detail(self.details, "prompt_tokens_details", "cache_write_tokens")

    @property
    def reasoning_tokens(self) -> int | None:
        """Completion tokens spent reasoning (``completion_tokens_details.reasoning_tokens``)."""
        return _detail(self.details, "completion_tokens_details", "reasoning_tokens")

    def as_dict(self) -> dict[str, Any]:
        counts = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        return {**self.details, **counts} if self.details else counts


def _detail(details: Mapping[str, Any] | None, group: str, name: str) -> int | None:
    values = details.get(group) if details else None
    value = values.get(name) if isinstance(values, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class Generation:
    """A finished, non-streamed answer."""

    text: str
    """The first choice's text (``message.content``, or ``text`` of a text completion)."""
    finish_reason: str | None
    usage: Usage | None
    choices: list[dict[str, Any]] | None = None
    """The answer's choices in OpenAI's shape (tool calls, refusals, logprobs, ``n`` > 1 choices), relayed to the
    client unchanged; None for a backend that only produces text (the gateway builds the one choice)."""
    extra: Mapping[str, Any] | None = None
    """Other top-level fields of the upstream's answer (``system_fingerprint``, ``service_tier``), relayed."""


@dataclass(frozen=True, slots=True)
class Delta:
    """One piece of a streamed answer: text, and on the last pieces the finish reason and usage."""

    text: str = ""
    """The first choice's text in this piece."""
    finish_reason: str | None = None
    usage: Usage | None = None
    choices: list[dict[str, Any]] | None = None
    """This piece's choices in OpenAI's chunk shape (``delta`` with content, tool call pieces, refusal;
    ``logprobs``; ``finish_reason``), ``role`` left out: relayed unchanged. None for a text-only backend."""


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
        self,
        kind: UpstreamFailure,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.param = param
        """The request field a 400 is about (a feature the backend cannot do), named in the client's error."""

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
