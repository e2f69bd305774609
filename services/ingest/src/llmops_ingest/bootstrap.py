"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, raw consumer, probes).

``create_app(settings)`` builds the production wiring inside the app's lifespan (Kafka clients need a
running event loop). ``create_app(settings, ports=IngestPorts(...))`` uses the given ports instead and
starts nothing, which is how tests run the real routes against an in-memory publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.http.limits import InFlightLimiter
from llmops_kit.kafka.consumer import ConsumerLoop
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EncodedEvent, EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_pii.records import PolicyRecordsView
from llmops_pii.settings import PiiSettings
from llmops_schemas.v2 import CallRecorded

from llmops_ingest import __version__
from llmops_ingest.adapters.redaction import NoopRedactor, PolicyRedactor
from llmops_ingest.config import IngestSettings
from llmops_ingest.entrypoints.consumer import RawCallDecoder, dead_letter_protector, make_raw_handler
from llmops_ingest.entrypoints.http import LIMITER, HttpDependencies, build_router
from llmops_ingest.entrypoints.openapi import install_openapi
from llmops_ingest.handlers import RecordRules
from llmops_ingest.ports import Redactor

__all__ = ["SERVICE", "IngestPorts", "create_app", "default_redactor", "record_rules"]

SERVICE = "ingest"


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _always_ready() -> bool:
    return True


@dataclass
class IngestPorts:
    """The collaborators a test (or an embedding) can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: authenticated routes answer 503 (as without ``LLMOPS_API_KEYS_FILE``)."""
    redactor: Redactor = field(default_factory=NoopRedactor)
    clock: Callable[[], datetime] = _utcnow
    ready: ReadinessCheck = _always_ready


def default_redactor(settings: PiiSettings | None = None) -> Redactor:
    """The redactor production uses for both entrypoints: the tenants' PII policies (``LLMOPS_PII_*``)."""
    settings = settings or PiiSettings()
    return PolicyRedactor(settings.policy_book()) if settings.enabled else NoopRedactor()


def record_rules(settings: IngestSettings) -> RecordRules:
    return RecordRules(
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        retention=timedelta(days=settings.retention_days),
    )


def _install(app: FastAPI, settings: IngestSettings, ports: IngestPorts) -> dict[str, ReadinessCheck]:
    """Put what the routes read on ``app.state``; the readiness checks of the keys (see ``install_api_keys``)."""
    app.state.ingest = HttpDependencies(
        publisher=ports.publisher,
        redactor=ports.redactor,
        clock=ports.clock,
        source=settings.source,
        rules=record_rules(settings),
        max_body_bytes=settings.max_body_bytes,
        max_records=settings.max_batch_records,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    return install_api_keys(app, ports.api_keys)


async def _kafka_runtime(app: FastAPI, settings: IngestSettings) -> Runtime:
    bootstrap = settings.kafka_bootstrap_servers
    producer = EventProducer(bootstrap, service=SERVICE, security=settings.kafka_security)
    components: list[Component] = []
    redactor = default_redactor()
    policies = isinstance(redactor, PolicyRedactor)
    if settings.ensure_topics:
        topics = [CallRecorded.topic, settings.raw_topic, *([PolicyRecordsView.topic] if policies else [])]
        components.append(TopicProvisioner(bootstrap, topics, security=settings.kafka_security))
    components.append(producer)
    if isinstance(redactor, PolicyRedactor):
        components.append(_policy_records(settings, redactor))
    keys = load_api_keys(settings)
    checks = {"kafka": producer.ping, **_install(app, settings, IngestPorts(producer, keys, redactor=redactor))}
    if settings.consume_raw:
        loop = _raw_consumer(settings, producer, redactor)
        components.append(loop)

        async def raw_consumer_ready() -> bool:
            return loop.ready

        checks["raw_consumer"] = raw_consumer_ready
    return Runtime(components=components, checks=checks)


def _policy_records(settings: IngestSettings, redactor: PolicyRedactor) -> CompactedTopicMaterializer:
    """Keeps the tenants' PII policies equal to their records on ``llmops.policies`` (docs/pii.md); until it has
    read them, a tenant gets the configured policy (every type redacted by default)."""
    return CompactedTopicMaterializer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=PolicyRecordsView.topic,
        view=PolicyRecordsView(redactor.book),
        client_id="llmops-ingest-pii-policies",
        security=settings.kafka_security,
    )


def _raw_consumer(settings: IngestSettings, producer: EventProducer, redactor: Redactor) -> ConsumerLoop[EncodedEvent]:
    decoder = RawCallDecoder(source=settings.source, redactor=redactor, clock=_utcnow, rules=record_rules(settings))
    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.raw_group,
        topics=[settings.raw_topic],
        decode=decoder,
        handle=make_raw_handler(producer),
        dead_letters=producer,
        service=SERVICE,
        security=settings.kafka_security,
        protect_original=dead_letter_protector(redactor),
    )


def create_app(settings: IngestSettings | None = None, *, ports: IngestPorts | None = None) -> FastAPI:
    """The ingest app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or IngestSettings()

    injected: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks={"publisher": ports.ready, **injected})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps ingest",
        description="Accepts LLM call records (HTTP batches and the raw Kafka topic) and publishes them as events.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(build_router(settings.max_batch_records))
    install_openapi(app)
    setattr(app.state, LIMITER, InFlightLimiter(settings.max_in_flight_per_key, what="batches"))
    if ports is not None:
        # Set now rather than in the lifespan, so a test client that skips the lifespan still works.
        injected.update(_install(app, settings, ports))
    return app
