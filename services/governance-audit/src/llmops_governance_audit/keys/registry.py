"""Writes of key state: validate, publish to ``llmops.governance.keys`` with the audit entry, then apply locally.

The topic is the state (docs/adding-a-service.md, "Where services keep state"): a change is durable once Kafka
acknowledged it, and every service's key store (``llmops_kit.keystate``) folds it in within a poll. Until this
replica's view has caught up with the topic, every read and write answers 503 rather than act on partial state
(rotating a key whose revocation is not read yet would bring it back).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.auth import ApiKeyRecord, generate_key, hash_key
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.keystate import KeyStateView
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import ApiKeyStateChanged
from llmops_schemas.v1.audit import canonical_hash
from pydantic import JsonValue

from llmops_governance_audit.keys.model import KeyCreate, KeyView

__all__ = ["KeyLimits", "KeyRegistry"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_key_id() -> str:
    return f"k-{secrets.token_hex(8)}"


class KeyLimits:
    """The bounds of the keys API (``GOVERNANCE_AUDIT_*`` settings)."""

    def __init__(
        self,
        *,
        max_keys_per_tenant: int = 1_000,
        default_ttl_s: int = 90 * 86_400,
        max_ttl_s: int = 400 * 86_400,
        default_grace_s: int = 86_400,
        max_grace_s: int = 7 * 86_400,
        publish_timeout_s: float = 10.0,
        retry_after_s: int = 5,
    ) -> None:
        self.max_keys_per_tenant = max_keys_per_tenant
        self.default_ttl_s, self.max_ttl_s = default_ttl_s, max_ttl_s
        self.default_grace_s, self.max_grace_s = default_grace_s, max_grace_s
        self.publish_timeout_s, self.retry_after_s = publish_timeout_s, retry_after_s


class KeyRegistry:
    """The keys of every tenant: reads from the kit's key-state view, writes through the topic."""

    def __init__(
        self,
        view: KeyStateView,
        publisher: EventPublisher,
        *,
        source: str,
        limits: KeyLimits | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._view = view
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._source = source
        self._limits = limits or KeyLimits()
        self._clock = clock
        self._lock = asyncio.Lock()

    def _loaded(self) -> KeyStateView:
        if not self._view.caught_up:
            raise ProblemError(
                503, "Service Unavailable", "the key state is still loading", retry_after=self._limits.retry_after_s
            )
        return self._view

    def owner_of(self, key_id: str) -> str | None:
        """The tenant a key belongs to, whichever it is (None: no such key, or a platform service's key)."""
        found = self._view.find(key_id)
        if found is not None:
            return found[0]
        record = self._view.store.get(key_id)
        return record.tenant_id if record is not None and record.tenant_id != "*" else None

    def keys(self, tenant: str) -> list[KeyView]:
        """Every key of ``tenant``: those made through the API, then the bootstrap file's that it never changed."""
        view = self._loaded()
        made = [self._shown(state) for state in view.of_tenant(tenant)]
        known = {key.key_id for key in made}
        bootstrap = [self._shown_record(r) for r in view.store.records() if r.tenant_id == tenant and r.id not in known]
        return made + sorted(bootstrap, key=lambda k: k.key_id)

    def get(self, tenant: str, key_id: str) -> KeyView:
        """One key of ``tenant``; 404 when the tenant has none by that id (the route audits other tenants' ids)."""
        state = self._state(tenant, key_id)
        return self._shown(state) if state is not None else self._shown_record(self._record(tenant, key_id))

    async def create(self, tenant: str, spec: KeyCreate, actor: Actor) -> tuple[KeyView, str]:
        """A new key (audited); returns it and the key itself, which is never stored."""
        ttl = spec.expires_in_s if spec.expires_in_s is not None else self._limits.default_ttl_s
        if ttl > self._limits.max_ttl_s:
            raise ProblemError(422, "Unprocessable Content", f"expires_in_s is at most {self._limits.max_ttl_s}")
        async with self._lock:
            view = self._loaded()
            if len(view.of_tenant(tenant)) >= self._limits.max_keys_per_tenant:
                limit = self._limits.max_keys_per_tenant
                raise ProblemError(409, "Conflict", f"the tenant has {limit} keys, the most allowed (revoked included)")
            now = self._clock()
            key = generate_key()
            state = ApiKeyStateChanged(
                key_id=_new_key_id(), name=spec.name, role=spec.role, sha256=hash_key(key), status="active",
                created_at=now, expires_at=now + timedelta(seconds=ttl), updated_by=actor.id, updated_at=now,
            )  # fmt: skip
            await self._publish(tenant, [state], actor, "key.create", None)
            return self._shown(state), key

    async def rotate(self, tenant: str, key_id: str, grace_s: int | None, actor: Actor) -> tuple[KeyView, str]:
        """A new key replacing ``key_id`` (same name, role and lifetime left); the old one stays valid for the
        grace period. Returns the new key and the key itself."""
        grace = self._limits.default_grace_s if grace_s is None else grace_s
        if grace > self._limits.max_grace_s:
            raise ProblemError(422, "Unprocessable Content", f"grace_s is at most {self._limits.max_grace_s}")
        async with self._lock:
            old = self._current(tenant, key_id)
            if old.status == "rotated":
                raise ProblemError(409, "Conflict", f"key {key_id!r} was already rotated to {old.rotated_to!r}")
            now = self._clock()
            key = generate_key()
            new = old.model_copy(
                update={"key_id": _new_key_id(), "sha256": hash_key(key), "status": "active", "rotated_to": None,
                        "created_at": now, "updated_by": actor.id, "updated_at": now}
            )  # fmt: skip
            grace_end = now + timedelta(seconds=grace)
            ends = grace_end if old.expires_at is None else min(old.expires_at, grace_end)
            retired = old.model_copy(
                update={"status": "rotated", "rotated_to": new.key_id, "expires_at": ends, "updated_by": actor.id,
                        "updated_at": now}
            )  # fmt: skip
            await self._publish(tenant, [new, retired], actor, "key.rotate", old)
            return self._shown(new), key

    async def revoke(self, tenant: str, key_id: str, actor: Actor) -> KeyView:
        """Stop accepting ``key_id`` in every service (audited); revoking a revoked key changes nothing."""
        async with self._lock:
            old = self._current(tenant, key_id, revoked_ok=True)
            if old.status == "revoked":
                return self._shown(old)
            now = self._clock()
            revoked = old.model_copy(update={"status": "revoked", "updated_by": actor.id, "updated_at": now})
            await self._publish(tenant, [revoked], actor, "key.revoke", old)
            return self._shown(revoked)

    def _state(self, tenant: str, key_id: str) -> ApiKeyStateChanged | None:
        found = self._loaded().find(key_id)
        return found[1] if found is not None and found[0] == tenant else None

    def _record(self, tenant: str, key_id: str) -> ApiKeyRecord:
        record = self._view.store.get(key_id)
        if record is None or record.tenant_id != tenant:
            raise ProblemError(404, "Not Found", f"no key {key_id!r}")
        return record

    def _current(self, tenant: str, key_id: str, *, revoked_ok: bool = False) -> ApiKeyStateChanged:
        """The key's state to change: from the topic, or made from its bootstrap-file entry (first change)."""
        state = self._state(tenant, key_id)
        if state is None:
            record = self._record(tenant, key_id)
            now = self._clock()
            state = ApiKeyStateChanged(
                key_id=record.id, name=f"bootstrap key {record.id}", role=record.role, sha256=record.sha256,
                status="active", created_at=now, expires_at=record.expires_at, updated_by="file", updated_at=now,
            )  # fmt: skip
        if state.status == "revoked" and not revoked_ok:
            raise ProblemError(409, "Conflict", f"key {key_id!r} is revoked")
        return state

    async def _publish(
        self,
        tenant: str,
        states: list[ApiKeyStateChanged],
        actor: Actor,
        action: str,
        before: ApiKeyStateChanged | None,
    ) -> None:
        """The records and their audit entry, in one batch Kafka acknowledges whole (or 503); then applied here."""
        events = [
            CloudEvent.wrap(s, source=self._source, tenant_id=tenant, subject=s.key_id, key_id=actor.key_id)
            for s in states
        ]
        details: dict[str, JsonValue] = {
            "role": states[0].role,
            "before": _digest(before),
            "after": _digest(states[-1]),
            "keys": [s.key_id for s in states],
        }
        resource = ("api_key", (before or states[0]).key_id)
        audited = self._audit.publish_with(
            tenant, actor, action=action, resource=resource, details=details, events=events
        )
        try:
            await asyncio.wait_for(audited, self._limits.publish_timeout_s)
        except _UNAVAILABLE as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                f"the key change could not be stored: {type(exc).__name__}",
                retry_after=self._limits.retry_after_s,
            ) from exc
        for state in states:
            self._view.put(tenant, state)

    def _shown(self, state: ApiKeyStateChanged) -> KeyView:
        expired = state.status != "revoked" and state.expires_at is not None and state.expires_at <= self._clock()
        return KeyView(
            key_id=state.key_id, name=state.name, role=state.role, status="expired" if expired else state.status,
            source="api", created_at=state.created_at, expires_at=state.expires_at, rotated_to=state.rotated_to,
            updated_by=state.updated_by, updated_at=state.updated_at,
        )  # fmt: skip

    def _shown_record(self, record: ApiKeyRecord) -> KeyView:
        expired = record.expires_at is not None and record.expires_at <= self._clock()
        return KeyView(
            key_id=record.id, name=f"bootstrap key {record.id}", role=record.role,
            status="expired" if expired else "active", source="file", expires_at=record.expires_at,
        )  # fmt: skip


def _digest(state: ApiKeyStateChanged | None) -> str | None:
    """A digest of a key's state for the audit entry's before/after (the state holds no secret)."""
    return None if state is None else canonical_hash(state.model_dump(mode="json"))
