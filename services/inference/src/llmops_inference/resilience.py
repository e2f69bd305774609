"""Circuit breakers (one per upstream) and retry delays.

A breaker is *closed* (calls flow) until ``failure_threshold`` consecutive upstream faults, then *open*
(calls are refused at once, without touching the upstream) for ``cooldown_s``; then *half-open*: one trial
call is let through; its success closes the circuit, its failure opens it for another cool-down.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import IntEnum

from llmops_inference.metrics import BREAKER_STATE

__all__ = ["BreakerState", "CircuitBreaker", "backoff_delay"]


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """The state machine of one upstream; ``clock`` is injectable so tests need not sleep."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._publish()

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_after(self) -> float:
        """Seconds until a trial call will be allowed (0 when calls flow)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a call may go to the upstream now; in half-open, only the first caller gets the trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            self._publish()
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False
        self._publish()

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()  # a failed trial re-opens for a whole cool-down
        self._publish()

    def release(self) -> None:
        """The allowed call ended without telling anything about the upstream (e.g. the client left)."""
        self._trial_in_flight = False

    def _publish(self) -> None:
        BREAKER_STATE.labels(self.name).set(int(self.state))


def backoff_delay(attempt: int, base_s: float, cap_s: float = 5.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap_s, base_s * (2**attempt)))
