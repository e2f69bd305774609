"""When a notifier hears of a group's changes: Alertmanager's ``group_wait`` and ``group_interval``.

A group is the changes of one rule with one ``group_key`` (the values of the rule's ``group_by`` labels) owed
to one notifier. The first notification of a group waits ``group_wait`` after its oldest change was queued, so
that alerts firing together are told together; after a notification, the group's later changes wait until
``group_interval`` after it and go out together. A group that has not been notified for ``group_interval``
starts over (its next change waits ``group_wait``). Both 0: every change goes out at once.

:class:`Groups` is pure: it takes the time as an argument (an injectable clock), so tests need no waiting.
Memory is bounded by the records owed plus the groups notified within the last ``group_interval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from llmops_schemas.v2 import NotificationQueued

__all__ = ["Batch", "Groups", "Timing", "group_of"]

Owed = tuple[str, NotificationQueued]
"""An outbox record key and its notification."""


@dataclass(frozen=True)
class Timing:
    """A notifier's grouping: how long a new group waits, and how long between two notifications of a group."""

    wait: timedelta = timedelta(0)
    interval: timedelta = timedelta(0)


@dataclass(frozen=True)
class Batch:
    """The changes of one group to send together, oldest first."""

    group: str
    items: list[Owed]
    partial: bool = False
    """More of the group is owed than one batch holds: the rest goes out next, without waiting."""


def group_of(item: NotificationQueued) -> str:
    """The group of a notification: its rule and its group key (the rule's ``group_by`` labels)."""
    return f"{item.alert.rule_id or item.alert.rule}\x1f{item.alert.group_key or ''}"


class Groups:
    """The grouping state of one notifier: when each group was last notified."""

    def __init__(self, max_batch: int) -> None:
        self._max = max_batch
        self._notified: dict[str, datetime] = {}
        self._draining: set[str] = set()

    def _due(self, group: str, oldest: datetime, timing: Timing) -> datetime:
        if group in self._draining:
            return oldest
        last = self._notified.get(group)
        if last is None or last + timing.interval <= oldest:
            return oldest + timing.wait
        return last + timing.interval

    def plan(self, owed: list[Owed], now: datetime, timing: Timing) -> tuple[Batch | None, datetime | None]:
        """The batch to send now (the group due longest ago, at most ``max_batch`` changes), or None and when
        the next group is due (None: nothing owed)."""
        by_group: dict[str, list[Owed]] = {}
        for key, item in sorted(owed, key=lambda o: o[1].queued_at):
            by_group.setdefault(group_of(item), []).append((key, item))
        due = {g: self._due(g, items[0][1].queued_at, timing) for g, items in by_group.items()}
        self._forget(now, timing, set(by_group))
        if not due:
            return None, None
        group = min(due, key=lambda g: due[g])
        if due[group] > now:
            return None, due[group]
        items = by_group[group]
        return Batch(group, items[: self._max], partial=len(items) > self._max), None

    def notified(self, batch: Batch, now: datetime) -> None:
        """The batch was sent (or closed) at ``now``: the group's next changes wait ``interval`` (the rest of a
        partial batch goes out at once)."""
        if batch.partial:
            self._draining.add(batch.group)
            return
        self._draining.discard(batch.group)
        self._notified[batch.group] = now

    def _forget(self, now: datetime, timing: Timing, owed: set[str]) -> None:
        self._draining &= owed
        for group, last in list(self._notified.items()):
            if group not in owed and last + timing.interval <= now:
                del self._notified[group]
