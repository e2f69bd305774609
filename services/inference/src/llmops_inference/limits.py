"""Per-key limits: requests and tokens per minute (429 with ``Retry-After``), prompt size and ``max_tokens``.

Rate limits use a sliding 60-second window per key. Tokens cannot be known before a call, so admission
reserves an estimate (prompt characters / 4 plus the call's ``max_tokens``) and :meth:`Reservation.settle`
replaces it with the usage the upstream reported once the call ends. When the upstream reported none (a stream
the client closed early, an upstream that never sends usage) the call is charged an estimate instead: the prompt
plus the answer produced so far (characters / 4), or the whole reservation (``max_tokens``) when no answer came
at all, so a missing usage can never make a call free. A call is admitted while the window's
tokens plus its estimate stay within the limit (a single call larger than the whole limit is still let
through an empty window, or it could never run).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from llmops_inference.errors import GatewayError
from llmops_inference.metrics import RATE_LIMITED

__all__ = ["RateLimiter", "Reservation", "check_sizes", "estimate_tokens", "text_tokens"]

WINDOW_S = 60.0


def estimate_tokens(prompt_chars: int, max_tokens: int) -> int:
    """A deliberately rough upper-ish estimate: about four characters per token, plus the whole completion."""
    return prompt_chars // 4 + 1 + max_tokens


def text_tokens(chars: int) -> int:
    """About four characters per token, rounded up (the estimate of a text no tokenizer counted)."""
    return -(-chars // 4)


def check_sizes(*, prompt_chars: int, max_prompt_chars: int, max_tokens: int | None, max_tokens_limit: int) -> None:
    """413 for a prompt over the limit, 400 for ``max_tokens`` over the limit."""
    if prompt_chars > max_prompt_chars:
        raise GatewayError(
            413,
            f"the prompt has {prompt_chars} characters; at most {max_prompt_chars} are allowed",
            param="messages",
            code="prompt_too_large",
        )
    if max_tokens is not None and max_tokens > max_tokens_limit:
        raise GatewayError(
            400,
            f"max_tokens is {max_tokens}; at most {max_tokens_limit} is allowed",
            param="max_tokens",
            code="max_tokens_exceeded",
        )


@dataclass
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[list[float]] = field(default_factory=deque)
    """``[timestamp, tokens]`` entries; the amount is mutable so a reservation can be settled in place."""

    def expire(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW_S:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW_S:
            self.tokens.popleft()

    def token_sum(self) -> float:
        return sum(entry[1] for entry in self.tokens)


@dataclass(slots=True)
class Reservation:
    """The tokens a call reserved; settle it with what the call really used."""

    _entry: list[float] | None
    prompt_tokens: int = 0
    """The prompt's share of the reservation (what a call without reported usage is charged at least)."""

    def settle(self, used_tokens: int | None, *, answer_chars: int | None = None) -> None:
        """Charge ``used_tokens`` when the upstream reported them; else the prompt plus the answer so far
        (``answer_chars`` characters), or, when no answer came (``None``), keep the whole reservation."""
        if self._entry is None:
            return
        if used_tokens is not None:
            self._entry[1] = float(used_tokens)
        elif answer_chars is not None:
            self._entry[1] = float(self.prompt_tokens + text_tokens(answer_chars))


class RateLimiter:
    """Sliding-window limits per key id; 0 disables a limit. Single event loop: no locking needed."""

    def __init__(
        self, requests_per_minute: int, tokens_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rpm = requests_per_minute
        self.tpm = tokens_per_minute
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def admit(self, key_id: str, estimated_tokens: int, *, prompt_tokens: int = 0) -> Reservation:
        """Count the call, or raise 429 with the seconds until it would fit."""
        now = self._clock()
        window = self._windows.setdefault(key_id, _Window())
        window.expire(now)
        if self.rpm and len(window.requests) >= self.rpm:
            RATE_LIMITED.labels("requests").inc()
            wait = window.requests[0] + WINDOW_S - now
            raise _limited("requests", f"Rate limit reached: {self.rpm} requests per minute", wait)
        if self.tpm and window.tokens and window.token_sum() + estimated_tokens > self.tpm:
            RATE_LIMITED.labels("tokens").inc()
            raise _limited(
                "tokens",
                f"Rate limit reached: {self.tpm} tokens per minute",
                self._token_wait(window, estimated_tokens, now),
            )
        window.requests.append(now)
        entry = [now, float(estimated_tokens)] if self.tpm else None
        if entry is not None:
            window.tokens.append(entry)
        self._forget_idle(now)
        return Reservation(entry, prompt_tokens)

    def _token_wait(self, window: _Window, needed: int, now: float) -> float:
        """Seconds until enough of the window has expired for ``needed`` more tokens."""
        excess = window.token_sum() + needed - self.tpm
        for stamp, amount in window.tokens:
            excess -= amount
            if excess <= 0:
                return stamp + WINDOW_S - now
        return WINDOW_S

    def _forget_idle(self, now: float) -> None:
        """Drop windows of keys idle for a whole window, so memory stays bounded by active keys."""
        if len(self._windows) > 10_000:
            for key in [k for k, w in self._windows.items() if not w.requests or w.requests[-1] <= now - WINDOW_S]:
                del self._windows[key]


def _limited(kind: str, message: str, wait_s: float) -> GatewayError:
    return GatewayError(429, message, type=kind, code="rate_limit_exceeded", retry_after=max(1.0, wait_s))
