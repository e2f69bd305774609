"""Window arithmetic and the keys of the windows table: which windows a call falls in, which ones are closed.

A window is ``[start, start + size)`` in event time (the call's ``started_at``): tumbling when the step equals
the size, sliding (faust's hopping windows) when the step is shorter, so a call falls in ``size / step``
windows. A window closes ``grace`` seconds after its end, by the wall clock; a call arriving for a closed window
is late and only counted.

The windows table holds one entry per scope, window and fold batch (:mod:`llmops_drift_detection.entries`),
keyed by scope, window start and the entry's id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from faust.windows import HoppingWindow

from llmops_drift_detection.features import Scope

__all__ = ["ClosedWindow", "WindowKey", "Windowing"]


@dataclass(frozen=True)
class WindowKey:
    """One entry of one window of one scope (the windows table's key, as text)."""

    scope: Scope
    start: float
    entry: str

    def encode(self) -> str:
        return json.dumps([self.scope.encode(), self.start, self.entry])

    @classmethod
    def decode(cls, text: str) -> WindowKey:
        scope, start, entry = json.loads(text)
        return cls(Scope.decode(scope), float(start), entry)


@dataclass(frozen=True)
class ClosedWindow:
    """A window past its end and grace: its scope, bounds and the table keys of its entries."""

    scope: Scope
    start: float
    end: float
    keys: tuple[str, ...]


class Windowing:
    """Tumbling (``step`` None) or sliding windows of ``size`` seconds, closed ``grace`` seconds after their end."""

    def __init__(self, size: float, step: float | None, grace: float) -> None:
        self.size, self.step, self.grace = size, step or size, grace
        self._window = HoppingWindow(size, self.step)

    def starts(self, timestamp: float) -> list[float]:
        """The starts of the windows that ``timestamp`` falls in (``[start, start + size)``)."""
        # faust's ranges end 0.1 s early (start + size - 0.1): the bound here is the window's own.
        return [start for start, _ in self._window.ranges(timestamp) if start <= timestamp < start + self.size]

    def closed(self, start: float, now: float) -> bool:
        """Whether the window starting at ``start`` is past its end and grace at ``now``."""
        return start + self.size + self.grace <= now
