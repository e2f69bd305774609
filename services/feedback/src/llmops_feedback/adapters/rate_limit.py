"""A fixed-window count of token submissions per call, in memory, with a bound on how many calls it tracks.

Per process: with N replicas a call can receive up to N times the limit, which still bounds an abuser (the
limit is there to stop one page from flooding a call with votes, not to be exact). Windows start at a call's
first submission; calls are kept in the order their window started, so the expired ones are at the front and
dropped there, in O(1) per submission.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["WindowedSubmissionLimit"]


class WindowedSubmissionLimit:
    """At most ``limit`` submissions per call per ``window_s`` seconds, tracking at most ``max_calls`` calls."""

    def __init__(
        self, limit: int, window_s: float, max_calls: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window_s <= 0 or max_calls < 1:
            raise ValueError("limit and max_calls must be at least 1, window_s positive")
        self._limit = limit
        self._window_s = window_s
        self._max_calls = max_calls
        self._clock = clock
        self._windows: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def admit(self, tenant_id: str, call_id: str) -> float | None:
        now = self._clock()
        self._expire(now)
        key = (tenant_id, call_id)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self._max_calls:
                started, _ = next(iter(self._windows.values()))
                return started + self._window_s - now
            self._windows[key] = (now, 1)
            return None
        started, count = window
        if count >= self._limit:
            return started + self._window_s - now
        self._windows[key] = (started, count + 1)
        return None

    def _expire(self, now: float) -> None:
        while self._windows:
            started, _ = next(iter(self._windows.values()))
            if started + self._window_s > now:
                return
            self._windows.popitem(last=False)
