"""The service's state, materialised from its topics: configuration, open alerts and the outbox.

* :class:`ConfigStore` folds ``llmops.alerting.config`` (rules, objectives, silences, notifiers per tenant).
* :class:`AlertBook` folds ``llmops.alerts`` read from the beginning: the latest change of every alert, so a
  restarted service knows which alerts are open and neither fires them twice nor forgets to resolve them.
* :class:`Outbox` folds ``llmops.alerting.outbox``: what is still owed to each notifier.

Each is a kit :class:`~llmops_kit.kafka.materializer.CompactedStore`, fed by a materialiser and by the
service's own writes (applied locally once Kafka acknowledged them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeAlias

from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AlertRuleConfigured as RuleV1
from llmops_schemas.v1 import NotifierConfigured, ObjectiveConfigured, SilenceSet
from llmops_schemas.v2 import AlertRuleConfigured, AlertStateChanged, NotificationQueued

__all__ = ["AlertBook", "ConfigStore", "Entity", "Outbox", "Spikes", "materializers"]

Entity: TypeAlias = AlertRuleConfigured | ObjectiveConfigured | SilenceSet | NotifierConfigured
KINDS: dict[type[Any], str] = {
    AlertRuleConfigured: "rule",
    ObjectiveConfigured: "objective",
    SilenceSet: "silence",
    NotifierConfigured: "notifier",
}


class ConfigStore(CompactedStore):
    """Rules, objectives, silences and notifiers by tenant, kind and id."""

    topic = AlertRuleConfigured.topic

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, dict[str, dict[str, Entity]]] = {}
        self.version = 0
        """Bumped on every change, so evaluators can cache what they derive from the rules."""

    def apply(self, event: CloudEvent[Any]) -> None:
        data = AlertRuleConfigured.from_v1(event.data) if isinstance(event.data, RuleV1) else event.data
        kind = KINDS.get(type(data))
        if kind is None:
            return
        entity: Entity = data
        key = entity.entity_key().partition(":")[2]
        if entity.deleted:
            self._items.get(event.tenant_id, {}).get(kind, {}).pop(key, None)
        else:
            self._items.setdefault(event.tenant_id, {}).setdefault(kind, {})[key] = entity
        self.version += 1

    def delete(self, key: str) -> None:
        tenant, _, rest = key.partition(":")
        kind, _, ident = rest.partition(":")
        self._items.get(tenant, {}).get(kind, {}).pop(ident, None)
        self.version += 1

    def tenants(self) -> list[str]:
        return list(self._items)

    def of(self, tenant: str, kind: str) -> dict[str, Any]:
        """The tenant's entities of ``kind`` by id (a copy)."""
        return dict(self._items.get(tenant, {}).get(kind, {}))

    def get(self, tenant: str, kind: str, ident: str) -> Any:
        return self._items.get(tenant, {}).get(kind, {}).get(ident)

    def rules(self, tenant: str) -> list[AlertRuleConfigured]:
        return [r for r in self.of(tenant, "rule").values() if r.enabled]

    def all_rules(self) -> list[tuple[str, AlertRuleConfigured]]:
        """Every enabled rule of every tenant."""
        return [(tenant, rule) for tenant in self.tenants() for rule in self.rules(tenant)]


class AlertBook(CompactedStore):
    """The latest change of every alert, by tenant and alert id (resolved ones are dropped)."""

    topic = AlertStateChanged.topic

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[tuple[str, str], AlertStateChanged] = {}
        self._last: dict[tuple[str, str], str] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        # Changes without a rule id are other producers' (the cost service's spend spikes): cost_anomaly rules
        # turn them into this service's alerts; held here, they would stay open for ever (nothing resolves them).
        if isinstance(event.data, AlertStateChanged) and event.data.rule_id is not None:
            self.record(event.tenant_id, event.data, event.id)

    def record(self, tenant: str, alert: AlertStateChanged, event_id: str) -> None:
        """Fold one change in, unless a later one of the alert is already in: the service applies its own
        changes at once and reads them back from the topic later (event ids are UUIDv7, ordered by time)."""
        key = (tenant, alert.alert_id)
        if self._last.get(key, "") >= event_id:
            return
        self._last[key] = event_id
        if alert.status == "resolved":
            self._open.pop(key, None)
        else:
            self._open[key] = alert

    def delete(self, key: str) -> None:  # a stream topic has no tombstones
        return

    def get(self, tenant: str, alert_id: str) -> AlertStateChanged | None:
        return self._open.get((tenant, alert_id))

    def open(self, tenant: str) -> list[AlertStateChanged]:
        """The tenant's firing and acknowledged alerts, newest first."""
        found = [a for (t, _), a in self._open.items() if t == tenant]
        return sorted(found, key=lambda a: a.starts_at, reverse=True)

    def __len__(self) -> int:
        return len(self._open)


class Outbox(CompactedStore):
    """Notifications owed, by record key; ``listener`` hears of each new one (the dispatcher)."""

    topic = NotificationQueued.topic

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, tuple[str, NotificationQueued]] = {}
        self.listener: Callable[[str, str, NotificationQueued], None] | None = None
        self._closed: set[str] = set()

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, NotificationQueued):
            self.add(event.tenant_id, event.data)

    def add(self, tenant: str, item: NotificationQueued) -> None:
        key = f"{tenant}:{item.entity_key()}"
        if key in self.pending or key in self._closed:
            return  # owed already, or delivered here before the topic's copy was read back
        self.pending[key] = (tenant, item)
        if self.listener is not None:
            self.listener(key, tenant, item)

    def close(self, key: str) -> None:
        """Delivered: no longer owed, and its record read back from the topic (before the tombstone) is ignored."""
        if self.pending.pop(key, None) is not None:
            self._closed.add(key)

    def delete(self, key: str) -> None:
        """A tombstone read from the topic: the record is gone for good."""
        self.pending.pop(key, None)
        self._closed.discard(key)

    def owed(self, tenant: str, notifier_id: str) -> int:
        return sum(1 for t, item in self.pending.values() if t == tenant and item.notifier_id == notifier_id)


class Spikes:
    """When each open ``cost_anomaly`` alert last saw a spike (the end of its hour), so that the poller resolves
    it ``window_s`` later; bounded (the oldest entry goes first). A restart forgets them: the alert's start
    stands in."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._seen: dict[tuple[str, str], datetime] = {}

    def saw(self, tenant: str, alert_id: str, until: datetime) -> None:
        key = (tenant, alert_id)
        self._seen[key] = max(until, self._seen.pop(key, until))
        while len(self._seen) > self._max:
            del self._seen[next(iter(self._seen))]

    def last(self, tenant: str, alert_id: str) -> datetime | None:
        return self._seen.get((tenant, alert_id))

    def forget(self, tenant: str, alert_id: str) -> None:
        self._seen.pop((tenant, alert_id), None)


def materializers(
    bootstrap: str, stores: list[CompactedStore], security: KafkaSecurity
) -> list[CompactedTopicMaterializer]:
    """One materialiser per store, each reading its topic from the beginning."""
    return [
        CompactedTopicMaterializer(
            bootstrap_servers=bootstrap, topic=s.topic, view=s, client_id=f"alerting-{s.topic}", security=security
        )
        for s in stores
    ]
