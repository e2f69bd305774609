"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, topics, probes).

``create_app(settings)`` builds the production wiring inside the app's lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=GovernanceAuditPorts(...))`` uses the given ports instead and starts
nothing, which is how tests run the real routes against the kit's in-memory publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.errors import TransientError
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.keystate import KeyStateFollower, KeyStateView
from llmops_kit.platform_client import WarehouseReader, warehouse_reader
from llmops_schemas.v1 import ApiKeyStateChanged, AuditRecorded
from llmops_schemas.v2 import ErasureRequested, PolicyPublished

from llmops_governance_audit import __version__
from llmops_governance_audit.chain.wiring import CHAIN_TOPICS, chain_runtime
from llmops_governance_audit.config import GovernanceAuditSettings
from llmops_governance_audit.entrypoints.http import include_routes
from llmops_governance_audit.erasures.http import ERASURES, ErasureDesk
from llmops_governance_audit.keys.http import REGISTRY
from llmops_governance_audit.keys.registry import KeyRegistry
from llmops_governance_audit.policies.http import POLICIES
from llmops_governance_audit.policies.registry import PolicyRegistry, PolicyStore, Tombstone

__all__ = ["SERVICE", "TOPICS", "GovernanceAuditPorts", "create_app"]

SERVICE = "governance-audit"
TOPICS = [
    ApiKeyStateChanged.topic,
    AuditRecorded.topic,
    PolicyPublished.topic,
    *CHAIN_TOPICS[1:],
    ErasureRequested.topic,
]
"""The catalog topics the service writes or reads (created at start when missing)."""


async def _always_ready() -> bool:
    return True


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class GovernanceAuditPorts:
    """The collaborators a test (or an embedding) can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: key-authenticated requests answer 503 (as without any key state)."""
    ready: ReadinessCheck = _always_ready
    key_state: KeyStateView | None = None
    """The materialised keys topic the keys API reads and writes; None: the one following ``api_keys``' topic
    (production), or a view over ``api_keys`` alone that is not caught up (the keys API answers 503)."""
    clock: Callable[[], datetime] = _utcnow
    policies: PolicyStore | None = None
    """The materialised ``llmops.policies`` the policies API reads and writes; None: the API answers 503."""
    tombstone: Tombstone | None = None
    """Deletes a policy from its compacted topic; None: deleting answers 503."""
    warehouse: WarehouseReader | None = None
    """Where erasure receipts are read (``GET /v1/erasures/{id}``); None: that route answers 503."""


async def _no_tombstones(topic: str, key: bytes) -> None:
    raise TransientError("this service was started without a way to delete records")


def _key_state(ports: GovernanceAuditPorts) -> KeyStateView | None:
    if ports.key_state is not None or ports.api_keys is None:
        return ports.key_state
    source = ports.api_keys.source
    return source.view if isinstance(source, KeyStateFollower) else KeyStateView(ports.api_keys)


def _install(app: FastAPI, settings: GovernanceAuditSettings, ports: GovernanceAuditPorts) -> dict[str, ReadinessCheck]:
    """Put what the routes read on ``app.state``; the readiness checks of the keys (see ``install_api_keys``)."""
    view = _key_state(ports)
    if view is not None:
        registry = KeyRegistry(
            view, ports.publisher, source=settings.source, limits=settings.key_limits(), clock=ports.clock
        )
        setattr(app.state, REGISTRY, registry)
    if ports.policies is not None:
        tombstone = ports.tombstone or _no_tombstones
        limits = settings.policy_limits()
        policies = PolicyRegistry(
            ports.policies, ports.publisher, tombstone, source=settings.source, limits=limits, clock=ports.clock
        )
        setattr(app.state, POLICIES, policies)
    desk = ErasureDesk(
        ports.publisher,
        ports.warehouse,
        source=settings.source,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    setattr(app.state, ERASURES, desk)
    return install_api_keys(app, ports.api_keys)


async def _kafka_runtime(app: FastAPI, settings: GovernanceAuditSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    components: list[Component] = []
    if settings.ensure_topics:
        components.append(TopicProvisioner(bootstrap, TOPICS, security=security))
    chain = chain_runtime(bootstrap, security, producer, source=settings.source, service=SERVICE)
    policies = PolicyStore()
    follower = CompactedTopicMaterializer(
        bootstrap_servers=bootstrap, topic=policies.topic, view=policies, client_id=f"{SERVICE}-policies",
        security=security,
    )  # fmt: skip
    reader = warehouse_reader(settings)
    components += [producer, *chain.components, follower, *([reader] if reader else [])]

    async def tombstone(topic: str, key: bytes) -> None:
        await producer.send_many([(topic, key, None, [])])

    keys = load_api_keys(settings)
    ports = GovernanceAuditPorts(producer, keys, policies=policies, tombstone=tombstone, warehouse=reader)
    checks = {"kafka": producer.ping, "policies": follower.check, **chain.checks, **_install(app, settings, ports)}
    return Runtime(components=components, checks=checks)


def create_app(
    settings: GovernanceAuditSettings | None = None, *, ports: GovernanceAuditPorts | None = None
) -> FastAPI:
    """The governance-audit app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or GovernanceAuditSettings()
    injected: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks={"publisher": ports.ready, **injected})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps governance-audit",
        description="API keys, roles and governance policies of every tenant, data-subject erasure, and the "
        "tamper-evident audit trail.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
    )
    include_routes(app)
    if ports is not None:
        # Set now rather than in the lifespan, so a test client that skips the lifespan still works.
        injected.update(_install(app, settings, ports))
    return app
