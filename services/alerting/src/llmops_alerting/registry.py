"""Writes of rules, objectives, silences and notifiers: validate, publish with the audit entry, apply locally.

The topic is the state (docs/adding-a-service.md, "Where services keep state"): a write is durable once Kafka
acknowledged it and its audit entry together; until the store has caught up with the topic, reads and writes
answer 503 rather than act on part of the configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from pydantic import JsonValue

from llmops_alerting.state import KINDS, ConfigStore, Entity

__all__ = ["Registry"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)


class Registry:
    """The alerting configuration of every tenant: reads from the store, writes through the topic."""

    def __init__(
        self,
        store: ConfigStore,
        publisher: EventPublisher,
        *,
        source: str,
        limits: dict[str, int],
        clock: Callable[[], datetime],
        publish_timeout_s: float = 10.0,
        retry_after_s: int = 5,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._source = source
        self._limits = limits
        self._clock = clock
        self._timeout_s = publish_timeout_s
        self._retry_after_s = retry_after_s
        self._lock = asyncio.Lock()

    def loaded(self) -> ConfigStore:
        """The store, or 503 while it is still loading."""
        if not self._store.caught_up:
            raise ProblemError(
                503,
                "Service Unavailable",
                "the alerting configuration is still loading",
                retry_after=self._retry_after_s,
            )
        return self._store

    def list(self, tenant: str, kind: str) -> list[Any]:
        return sorted(self.loaded().of(tenant, kind).values(), key=lambda e: e.entity_key())

    def get(self, tenant: str, kind: str, ident: str) -> Any:
        found = self.loaded().get(tenant, kind, ident)
        if found is None:
            raise ProblemError(404, "Not Found", f"no {kind} {ident!r}")
        return found

    async def put(self, tenant: str, entity: Entity, actor: Actor) -> bool:
        """Create or replace (audited); returns whether it is new; 409 past the tenant's limit."""
        kind = KINDS[type(entity)]
        ident = entity.entity_key().partition(":")[2]
        async with self._lock:
            store = self.loaded()
            created = store.get(tenant, kind, ident) is None
            if created and len(store.of(tenant, kind)) >= self._limits[kind]:
                raise ProblemError(409, "Conflict", f"the tenant already has {self._limits[kind]} {kind}s (the limit)")
            await self._publish(tenant, entity, actor, f"alerting.{kind}.{'create' if created else 'update'}")
            return created

    async def delete(self, tenant: str, kind: str, ident: str, actor: Actor) -> None:
        """Remove it (a record with ``deleted``, audited); 404 when there is none."""
        async with self._lock:
            current = self.get(tenant, kind, ident)
            marker = current.model_copy(update={"deleted": True, "updated_at": self._clock(), "updated_by": actor.id})
            await self._publish(tenant, marker, actor, f"alerting.{kind}.delete")

    async def _publish(self, tenant: str, entity: Entity, actor: Actor, action: str) -> None:
        kind = KINDS[type(entity)]
        ident = entity.entity_key().partition(":")[2]
        event = CloudEvent.wrap(entity, source=self._source, tenant_id=tenant, subject=ident, key_id=actor.key_id)
        details: dict[str, JsonValue] = {"kind": kind}
        audited = self._audit.publish_with(
            tenant, actor, action=action, resource=(kind, ident), details=details, events=[event]
        )
        try:
            await asyncio.wait_for(audited, self._timeout_s)
        except _UNAVAILABLE as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                f"the change could not be stored: {type(exc).__name__}",
                retry_after=self._retry_after_s,
            ) from exc
        self._store.apply(event)
