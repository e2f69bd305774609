"""Alert state: observations in, state changes out (deduplicated), each with its outbox records.

An observation says whether a rule's condition holds for one set of labels now. The engine compares it with
the alert's current state in the :class:`~llmops_alerting.state.AlertBook`: a condition that holds for an
alert that is not open fires it; one that no longer holds resolves it (auto-resolve); anything else changes
nothing (deduplication). Every change is an ``llmops.alert.state_changed.v2`` event (the stored history) and,
for each of the rule's notifiers unless a silence matches, one ``NotificationQueued`` outbox record,
published in one batch before the state is applied locally (at least once: the caller commits after).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import NotifierConfigured, SilenceSet
from llmops_schemas.v2 import AlertStateChanged, NotificationQueued

from llmops_alerting.metrics import ALERT_CHANGES
from llmops_alerting.state import AlertBook, ConfigStore, Outbox, Spikes

__all__ = ["Engine", "Observation", "fingerprint", "silenced"]

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
Severity = Literal["info", "warning", "critical"]


def fingerprint(rule_id: str, labels: Mapping[str, str]) -> str:
    """The alert id: the same rule and labels always give the same id (PagerDuty's dedup key)."""
    text = rule_id + "\n" + "\n".join(f"{k}={labels[k]}" for k in sorted(labels))
    return "a-" + hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Observation:
    """Whether ``rule_id``'s condition holds for ``labels`` at ``at`` (``holds`` False resolves)."""

    tenant: str
    rule_id: str
    rule: str
    severity: Severity
    labels: dict[str, str]
    holds: bool
    at: datetime
    summary: str
    value: float | None = None
    group_by: Sequence[str] = ()
    notifiers: Sequence[str] = ()
    source_event_id: str | None = None
    description: str | None = None

    @property
    def alert_id(self) -> str:
        return fingerprint(self.rule_id, self.labels)


def silenced(silences: Sequence[SilenceSet], alert: AlertStateChanged, at: datetime) -> bool:
    """Whether an active silence matches every one of its matchers on the alert's labels (and rule id)."""
    labels = {**alert.labels, "rule": alert.rule_id or alert.rule}
    return any(
        s.starts_at <= at < s.ends_at and all(labels.get(k) == v for k, v in s.matchers.items()) for s in silences
    )


@dataclass
class Engine:
    """Turns observations and acknowledgements into published, deduplicated state changes."""

    book: AlertBook
    config: ConfigStore
    outbox: Outbox
    publisher: EventPublisher
    source: str
    clock: Callable[[], datetime]
    max_open: int = 100_000
    spikes: Spikes = field(default_factory=Spikes)
    """Cost anomalies' last spikes: recorded by the event rules, read by the poller to resolve them."""
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def observe(self, observations: Sequence[Observation]) -> list[AlertStateChanged]:
        """Publish the changes the observations make (in order), then apply them; returns the changes."""
        async with self._lock:
            # Every change is kept, in order: an alert that fires and resolves within one batch has both.
            changes: list[tuple[str, AlertStateChanged]] = []
            latest: dict[tuple[str, str], AlertStateChanged] = {}
            for obs in observations:
                current = latest.get((obs.tenant, obs.alert_id)) or self.book.get(obs.tenant, obs.alert_id)
                change = self._transition(obs, current)
                if change is not None:
                    latest[(obs.tenant, obs.alert_id)] = change
                    changes.append((obs.tenant, change))
            await self._emit(changes)
            return [alert for _, alert in changes]

    def _transition(self, obs: Observation, current: AlertStateChanged | None) -> AlertStateChanged | None:
        is_open = current is not None and current.status != "resolved"
        if obs.holds and not is_open:
            if len(self.book) >= self.max_open:
                return None
            group = ",".join(f"{k}={obs.labels.get(k, '')}" for k in obs.group_by) or None
            return AlertStateChanged(
                alert_id=obs.alert_id,
                rule=obs.rule[:256],
                rule_id=obs.rule_id,
                severity=obs.severity,
                status="firing",
                summary=obs.summary[:1024],
                description=obs.description,
                value=obs.value,
                labels=obs.labels,
                group_key=group,
                source_event_id=obs.source_event_id,
                starts_at=obs.at,
            )
        if not obs.holds and is_open and current is not None:
            ends = max(obs.at, current.starts_at)
            update = {"status": "resolved", "ends_at": ends, "value": obs.value, "source_event_id": obs.source_event_id}
            return current.model_copy(update=update)
        return None

    async def acknowledge(self, tenant: str, alert_id: str, key_id: str) -> AlertStateChanged | None:
        """Mark an open alert acknowledged (None: no such open alert); notifiers hear of it (PagerDuty ack)."""
        async with self._lock:
            current = self.book.get(tenant, alert_id)
            if current is None:
                return None
            if current.status == "acknowledged":
                return current
            change = AlertStateChanged.model_validate(
                {
                    **current.model_dump(),
                    "status": "acknowledged",
                    "acknowledged_by": key_id,
                    "acknowledged_at": self.clock(),
                }
            )
            await self._emit([(tenant, change)])
            return change

    async def _emit(self, changes: Sequence[tuple[str, AlertStateChanged]]) -> None:
        if not changes:
            return
        events: list[CloudEvent[Any]] = []
        queued: list[tuple[str, NotificationQueued]] = []
        recorded: list[tuple[str, AlertStateChanged, str]] = []
        for tenant, alert in changes:
            event = CloudEvent.wrap(alert, source=self.source, tenant_id=tenant, subject=alert.alert_id)
            events.append(event)
            recorded.append((tenant, alert, event.id))
            for item in self._notifications(tenant, alert, event.id):
                events.append(CloudEvent.wrap(item, source=self.source, tenant_id=tenant, subject=alert.alert_id))
                queued.append((tenant, item))
        await self.publisher.publish_many(events)
        for tenant, alert, event_id in recorded:
            self.book.record(tenant, alert, event_id)
            ALERT_CHANGES.labels(alert.status).inc()
        for tenant, item in queued:
            self.outbox.add(tenant, item)

    def _notifications(self, tenant: str, alert: AlertStateChanged, event_id: str) -> list[NotificationQueued]:
        now = self.clock()
        if silenced(list(self.config.of(tenant, "silence").values()), alert, now):
            return []
        return [
            NotificationQueued(notification_id=event_id, notifier_id=n.notifier_id, alert=alert, queued_at=now)
            for n in self._notifiers(tenant, alert)
        ]

    def _notifiers(self, tenant: str, alert: AlertStateChanged) -> list[NotifierConfigured]:
        rule = self.config.get(tenant, "rule", alert.rule_id or "") or self.config.get(
            tenant, "objective", (alert.rule_id or "").removeprefix("objective:")
        )
        wanted = list(rule.notifiers) if rule is not None else []
        found = [self.config.get(tenant, "notifier", n) for n in wanted]
        return [n for n in found if n is not None and SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[n.min_severity]]
