"""Key state for every service: the governance service's compacted topic, kept in each service's key store.

``llmops.governance.keys`` holds each tenant's keys (role, digest, status, expiry; the latest record per key).
:class:`KeyStateView` folds it into an :class:`~llmops_kit.auth.ApiKeyStore`: an active or rotated key is
accepted (until its expiry: a rotated key's grace period ends there), a revoked one is removed. Every replica
reads the topic whole (:class:`~llmops_kit.kafka.materializer.CompactedTopicMaterializer`) and follows it,
so a revocation reaches every service within a poll (half a second), without a restart.

The keys file (``LLMOPS_API_KEYS_FILE``) is the bootstrap: its keys are in the store from the start, and a
record on the topic for the same key id replaces it (so a bootstrap key can be revoked through the API too).
:class:`KeyStateFollower` is what :func:`llmops_kit.bootstrap.load_api_keys` attaches to the store; the kit's
lifespan starts it, so a service gets key state by calling ``load_api_keys(settings)`` and
``install_api_keys(app, keys)``, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ApiKeyStateChanged, AuditRecorded

from llmops_kit.access_audit import DenialAudit
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore
from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_kit.settings import ServiceSettings
from llmops_kit.tasks import cancel_and_wait

__all__ = ["KEYS_TOPIC", "KeyStateFollower", "KeyStateView"]

RETRY_PAUSE_S = 1.0

KEYS_TOPIC = ApiKeyStateChanged.topic
log = logging.getLogger(__name__)


class KeyStateView(CompactedStore):
    """The keys topic, folded into ``store`` (for authentication) and kept whole per tenant (for the API)."""

    topic = KEYS_TOPIC

    def __init__(self, store: ApiKeyStore) -> None:
        super().__init__()
        self.store = store
        self._states: dict[str, tuple[str, ApiKeyStateChanged]] = {}
        """key id -> (tenant, latest state)."""

    def apply(self, event: CloudEvent[Any]) -> None:
        state = event.data
        if not isinstance(state, ApiKeyStateChanged):
            log.warning("ignoring a %s record on %s", event.type, self.topic)
            return
        self.put(event.tenant_id, state)

    def put(self, tenant: str, state: ApiKeyStateChanged) -> None:
        """Apply one key's state (as read from the topic, or as just published by the governance service)."""
        self._states[state.key_id] = (tenant, state)
        if state.status == "revoked":
            self.store.remove(state.key_id)
            return
        record = ApiKeyRecord(
            id=state.key_id, tenant_id=tenant, role=state.role, sha256=state.sha256, expires_at=state.expires_at
        )
        self.store.put(record)

    def delete(self, key: str) -> None:
        _, _, key_id = key.partition(":")
        self._states.pop(key_id, None)
        self.store.remove(key_id)

    def find(self, key_id: str) -> tuple[str, ApiKeyStateChanged] | None:
        """The key's tenant and latest state, whichever tenant it belongs to (callers check the tenant)."""
        return self._states.get(key_id)

    def of_tenant(self, tenant: str) -> list[ApiKeyStateChanged]:
        """Every key of ``tenant`` the topic holds, revoked ones included, oldest first."""
        states = [state for owner, state in self._states.values() if owner == tenant]
        return sorted(states, key=lambda s: (s.created_at, s.key_id))


class KeyStateFollower:
    """A lifespan component: creates the keys topic if missing, then materialises it into the store; and
    publishes the store's refusals on the audit trail (its own producer, since a service's publisher is not
    known where keys are loaded). ``check`` is the service's ``api_keys`` readiness check."""

    def __init__(self, settings: ServiceSettings, store: ApiKeyStore) -> None:
        self.view = KeyStateView(store)
        self._settings = settings
        bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
        self._materializer = CompactedTopicMaterializer(
            bootstrap_servers=bootstrap,
            topic=KEYS_TOPIC,
            view=self.view,
            client_id="llmops-keystate",
            security=security,
        )
        self._service: str | None = None
        self._producer: EventProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._store = store

    def audit_as(self, service: str) -> None:
        """Audit the store's refusals as ``service`` (CloudEvents source ``/services/<service>``) once started."""
        self._service = service

    async def start(self) -> None:
        """Follow in the background (connecting is retried): a service starts while Kafka is unreachable."""
        self._task = asyncio.create_task(self._follow(), name="keystate")

    async def _follow(self) -> None:
        if self._settings.ensure_topics:
            await _retried(self._ensure_topics, "create the keys topic")
        await self._materializer.start()
        if self._service is not None:
            await _retried(self._start_auditing, "audit refusals")

    async def _ensure_topics(self) -> None:
        settings = self._settings
        topics = [KEYS_TOPIC, AuditRecorded.topic]
        await ensure_topics(
            settings.kafka_bootstrap_servers, TopicCatalog.load(), topics, security=settings.kafka_security
        )

    async def _start_auditing(self) -> None:
        """A producer of its own for the refusals (made here: a Kafka client needs the running event loop)."""
        settings = self._settings
        producer = EventProducer(
            settings.kafka_bootstrap_servers, service=f"{self._service}-access", security=settings.kafka_security
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        self._store.denials = DenialAudit(AuditTrail(producer, source=f"/services/{self._service}"))

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        await self._materializer.stop()
        denials = self._store.denials
        if isinstance(denials, DenialAudit):
            await denials.stop()
            self._store.denials = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def check(self) -> bool:
        """Ready once the store holds the keys topic as it was at start, and its access trail is started (a
        privileged read is refused until it is: ``llmops_kit.access_audit.audit_read``)."""
        return self._materializer.ready and (self._service is None or self._store.denials is not None)


async def _retried(step: Callable[[], Awaitable[None]], what: str) -> None:
    """Run ``step`` until it succeeds (Kafka not reachable yet: the service runs meanwhile, not ready)."""
    while True:
        try:
            await step()
            return
        except Exception as exc:
            log.warning("cannot %s yet (%s); retrying", what, type(exc).__name__)
            await asyncio.sleep(RETRY_PAUSE_S)
