"""Writes of policies: validate, publish to ``llmops.policies`` with the audit entry, then apply locally.

The topic is the state, as for keys (``keys/registry.py``): a change is durable once Kafka acknowledged it, and
every service that enforces policies (the gateway, ingest's PII redaction) folds it in within a poll. Until this
replica's :class:`PolicyStore` has caught up with the topic, reads and writes answer 503 rather than act on
partial state (a version number from a stale view would go backwards). A deletion is a tombstone (compaction
then forgets the policy; the warehouse keeps its history, which ``llmops audit explain`` reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.materializer import CompactedStore
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v2.governance import PolicyPublished

from llmops_governance_audit.policies.model import PolicySpec

__all__ = ["PolicyLimits", "PolicyRegistry", "PolicyStore", "Tombstone"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)
Tombstone = Callable[[str, bytes], Awaitable[None]]
"""Publishes a tombstone (a null value) under a key of a topic; returns once Kafka acknowledged it."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PolicyLimits:
    """The bounds of the policies API (``GOVERNANCE_AUDIT_*`` settings)."""

    max_policies_per_tenant: int = 200
    publish_timeout_s: float = 10.0
    retry_after_s: int = 5


class PolicyStore(CompactedStore):
    """Every tenant's current policies (v1 records are read as v2), materialised from ``llmops.policies``."""

    topic = PolicyPublished.topic

    def __init__(self) -> None:
        super().__init__()
        self._policies: dict[str, dict[str, PolicyPublished]] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, PolicyPublished):
            self.put(event.tenant_id, event.data)

    def delete(self, key: str) -> None:
        tenant, _, policy_id = key.partition(":")
        self.remove(tenant, policy_id)

    def put(self, tenant: str, policy: PolicyPublished) -> None:
        self._policies.setdefault(tenant, {})[policy.policy_id] = policy

    def remove(self, tenant: str, policy_id: str) -> None:
        self._policies.get(tenant, {}).pop(policy_id, None)

    def get(self, tenant: str, policy_id: str) -> PolicyPublished | None:
        return self._policies.get(tenant, {}).get(policy_id)

    def of_tenant(self, tenant: str) -> list[PolicyPublished]:
        return [self._policies[tenant][pid] for pid in sorted(self._policies.get(tenant, {}))]


class PolicyRegistry:
    """The policies of every tenant: reads from the store, writes through the topic, each write audited."""

    def __init__(
        self,
        store: PolicyStore,
        publisher: EventPublisher,
        tombstone: Tombstone,
        *,
        source: str,
        limits: PolicyLimits | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._tombstone = tombstone
        self._source = source
        self._limits = limits or PolicyLimits()
        self._clock = clock
        self._lock = asyncio.Lock()

    def _loaded(self) -> PolicyStore:
        if not self._store.caught_up:
            raise ProblemError(
                503, "Service Unavailable", "the policies are still loading", retry_after=self._limits.retry_after_s
            )
        return self._store

    def list(self, tenant: str) -> list[PolicyPublished]:
        """Every policy of ``tenant``, by id."""
        return self._loaded().of_tenant(tenant)

    def get(self, tenant: str, policy_id: str) -> PolicyPublished:
        """One policy of ``tenant``; 404 when it has none by that id."""
        found = self._loaded().get(tenant, policy_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"no policy {policy_id!r}")
        return found

    async def put(self, tenant: str, policy_id: str, spec: PolicySpec, actor: Actor) -> tuple[PolicyPublished, bool]:
        """Create or replace a policy (audited); returns it and whether it is new. The same content again
        changes nothing (no new version, no event)."""
        async with self._lock:
            store = self._loaded()
            old = store.get(tenant, policy_id)
            if old is None and len(store.of_tenant(tenant)) >= self._limits.max_policies_per_tenant:
                limit = self._limits.max_policies_per_tenant
                raise ProblemError(409, "Conflict", f"the tenant has {limit} policies, the most allowed")
            if old is not None and _content(old) == spec.model_dump(mode="json"):
                return old, False
            policy = PolicyPublished(
                policy_id=policy_id, name=spec.name, kind=spec.settings.kind, version=(old.version + 1) if old else 1,
                enabled=spec.enabled, description=spec.description, settings=spec.settings, updated_by=actor.id,
                updated_at=self._clock(),
            )  # fmt: skip
            event = CloudEvent.wrap(policy, source=self._source, tenant_id=tenant, subject=policy_id,
                                    key_id=actor.key_id)  # fmt: skip
            action = "policy.update" if old else "policy.create"
            await self._stored(self._audit.publish_with(
                tenant, actor, action=action, resource=("policy", policy_id), events=[event],
                before=old.model_dump(mode="json") if old else None,
                details={"kind": policy.kind, "version": policy.version, "enabled": policy.enabled},
            ))  # fmt: skip
            store.put(tenant, policy)
            return policy, old is None

    async def delete(self, tenant: str, policy_id: str, actor: Actor) -> PolicyPublished:
        """Delete a policy (a tombstone, audited); 404 when the tenant has none by that id."""
        async with self._lock:
            old = self.get(tenant, policy_id)
            await self._stored(self._tombstone(PolicyPublished.topic, f"{tenant}:{policy_id}".encode()))
            await self._stored(self._audit.publish_with(
                tenant, actor, action="policy.delete", resource=("policy", policy_id),
                before=old.model_dump(mode="json"), details={"kind": old.kind, "version": old.version},
            ))  # fmt: skip
            self._store.remove(tenant, policy_id)
            return old

    async def _stored(self, publishing: Awaitable[Any]) -> None:
        """Wait for Kafka's acknowledgement, or answer 503 (a retry is safe: PUT and DELETE are idempotent)."""
        try:
            await asyncio.wait_for(publishing, self._limits.publish_timeout_s)
        except _UNAVAILABLE as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                f"the policy change could not be stored: {type(exc).__name__}",
                retry_after=self._limits.retry_after_s,
            ) from exc


def _content(policy: PolicyPublished) -> dict[str, Any]:
    """What a :class:`PolicySpec` sets, from a stored policy (to tell a repeated PUT)."""
    return PolicySpec(name=policy.name, description=policy.description, enabled=policy.enabled,
                      settings=policy.settings).model_dump(mode="json")  # fmt: skip
