"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, raw consumer, probes).

``create_app(settings)`` builds the production wiring inside the app's lifespan (Kafka clients need a
running event loop). ``create_app(settings, ports=IngestPorts(...))`` uses the given ports instead and
starts nothing, which is how tests run the real routes against an in-memory publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.consumer import ConsumerLoop
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v1.calls import CallRecorded

from llmops_ingest import __version__
from llmops_ingest.adapters.redaction import NoopRedactor
from llmops_ingest.config import IngestSettings
from llmops_ingest.entrypoints.consumer import RawCallDecoder, make_raw_handler
from llmops_ingest.entrypoints.http import HttpDependencies, build_router
from llmops_ingest.entrypoints.openapi import install_openapi
from llmops_ingest.handlers import RecordRules
from llmops_ingest.ports import Redactor

__all__ = ["SERVICE", "IngestPorts", "create_app", "default_redactor", "record_rules"]

SERVICE = "ingest"
log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _always_ready() -> bool:
    return True


async def _never_ready() -> bool:
    return False


@dataclass
class IngestPorts:
    """The collaborators a test (or an embedding) can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore
    redactor: Redactor = field(default_factory=NoopRedactor)
    clock: Callable[[], datetime] = _utcnow
    ready: ReadinessCheck = _always_ready


class _TopicProvisioner:
    """A start-only component: creates ingest's topics (and their DLQs) if they are missing."""

    def __init__(self, bootstrap_servers: str, names: list[str]) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._names = names

    async def start(self) -> None:
        created = await ensure_topics(self._bootstrap_servers, TopicCatalog.load(), self._names)
        if created:
            log.info("created topics %s", ", ".join(created))

    async def stop(self) -> None:
        return None


def default_redactor() -> Redactor:
    """The redactor production uses for both entrypoints (the PII-redaction issue replaces it here)."""
    return NoopRedactor()


def record_rules(settings: IngestSettings) -> RecordRules:
    return RecordRules(
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        retention=timedelta(days=settings.retention_days),
    )


def _install(app: FastAPI, settings: IngestSettings, ports: IngestPorts) -> None:
    """Put what the routes read on ``app.state`` (the kit's auth reads ``api_keys`` from there)."""
    app.state.api_keys = ports.api_keys
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


def _load_keys(settings: IngestSettings) -> ApiKeyStore | None:
    if settings.api_keys_file is None:
        log.warning("LLMOPS_API_KEYS_FILE is not set: every API request answers 503 until it is")
        return None
    return ApiKeyStore.from_file(settings.api_keys_file)


async def _kafka_runtime(app: FastAPI, settings: IngestSettings) -> Runtime:
    bootstrap = settings.kafka_bootstrap_servers
    producer = EventProducer(bootstrap, service=SERVICE)
    components: list[Component] = []
    if settings.ensure_topics:
        components.append(_TopicProvisioner(bootstrap, [CallRecorded.topic, settings.raw_topic]))
    components.append(producer)
    redactor = default_redactor()
    checks: dict[str, ReadinessCheck] = {"kafka": producer.ping}
    keys = _load_keys(settings)
    if keys is not None:
        _install(app, settings, IngestPorts(publisher=producer, api_keys=keys, redactor=redactor))
    else:
        checks["api_keys"] = _never_ready
    if settings.consume_raw:
        loop = _raw_consumer(settings, producer, redactor)
        components.append(loop)

        async def raw_consumer_ready() -> bool:
            return loop.ready

        checks["raw_consumer"] = raw_consumer_ready
    return Runtime(components=components, checks=checks)


def _raw_consumer(
    settings: IngestSettings, producer: EventProducer, redactor: Redactor
) -> ConsumerLoop[CloudEvent[EventPayload]]:
    decoder = RawCallDecoder(source=settings.source, redactor=redactor, clock=_utcnow, rules=record_rules(settings))
    return ConsumerLoop(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.raw_group,
        topics=[settings.raw_topic],
        decode=decoder,
        handle=make_raw_handler(producer),
        dead_letters=producer,
        service=SERVICE,
    )


def create_app(settings: IngestSettings | None = None, *, ports: IngestPorts | None = None) -> FastAPI:
    """The ingest app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or IngestSettings()

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks={"publisher": ports.ready})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps ingest",
        description="Accepts LLM call records (HTTP batches and the raw Kafka topic) and publishes them as events.",
        version=__version__,
        build_runtime=build_runtime,
    )
    app.include_router(build_router(settings.max_batch_records))
    install_openapi(app)
    if ports is not None:
        # Set now rather than in the lifespan, so a test client that skips the lifespan still works.
        _install(app, settings, ports)
    return app
