"""Whether faust's table recovery still makes progress: a worker stuck in it holds partitions and folds nothing.

faust recovers the windows and references tables from their changelogs after every assignment, and the calls
partitions stay paused until it is done. faust-streaming has known ways of never finishing (it waits for a
changelog offset that no fetch will bring: faust-streaming/faust#21, #74, and ADR 0065's own), and it only logs
"No event received for active tp ..." meanwhile: the worker answers, its group keeps its partitions, and no call
of theirs is folded until the next rebalance. A restart ends it (the tables are recovered anew), so the service
reports it as liveness: ``/healthz`` answers 503 and the orchestrator restarts the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["RecoveryProgress", "RecoveryWatch"]

log = logging.getLogger(__name__)


class RecoveryProgress(Protocol):
    """What the watch reads of faust's ``Recovery`` (``app.tables.recovery``)."""

    in_recovery: bool

    def active_remaining_total(self) -> int:
        """Changelog records the active tables still have to read before recovery ends."""
        ...


class RecoveryWatch:
    """Stuck when recovery has had records left to read and read none of them for ``stall_s``.

    Progress is the count of records left going down; it is sampled whenever :meth:`stuck` is asked (the
    liveness probe, and the worker's own closing loop every few seconds), so a recovery that reads slowly but
    reads is never stuck, however long it takes.
    """

    def __init__(
        self, recovery: Callable[[], RecoveryProgress], stall_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._recovery, self.stall_s, self._clock = recovery, stall_s, clock
        self._left: int | None = None
        self._since = 0.0
        self._reported = False

    def stuck(self) -> str | None:
        """Why the worker is stuck, or None while recovery is over or still reading."""
        recovery, now = self._recovery(), self._clock()
        left = recovery.active_remaining_total() if recovery.in_recovery else 0
        if left <= 0 or left != self._left:
            self._left, self._since, self._reported = (left if left > 0 else None), now, False
            return None
        idle = now - self._since
        if idle < self.stall_s:
            return None
        reason = f"table recovery has read none of its {left} remaining changelog records for {idle:.0f} s"
        if not self._reported:
            log.error("%s: reporting not alive, so that the worker is restarted", reason)
            self._reported = True
        return reason
