"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, materialisers, loops, dispatcher).

``create_app(settings)`` builds the production wiring inside the app's lifespan. ``create_app(settings,
ports=AlertingPorts(...))`` uses the given ports and starts nothing, which is how unit tests run the real
routes against the kit's in-memory publisher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import warehouse_reader
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.v2 import AuditRecorded

from llmops_alerting import __version__
from llmops_alerting.config import AlertingSettings
from llmops_alerting.engine import Engine
from llmops_alerting.entrypoints.consumer import SOURCE_TOPICS, build_consumer
from llmops_alerting.entrypoints.http import router
from llmops_alerting.notifiers.dispatcher import Dispatcher
from llmops_alerting.notifiers.grouping import Timing
from llmops_alerting.notifiers.guard import AddressPolicy, guarded_client
from llmops_alerting.notifiers.sender import Sender
from llmops_alerting.poller import Poller
from llmops_alerting.ports import MetricsReader, OutboxCloser, Secrets
from llmops_alerting.registry import Registry
from llmops_alerting.state import AlertBook, ConfigStore, Outbox, materializers
from llmops_alerting.wiring import STATE_KEY, Services

__all__ = ["SERVICE", "AlertingPorts", "KafkaCloser", "create_app"]

SERVICE = "alerting"
TOPICS = [*SOURCE_TOPICS, ConfigStore.topic, AlertBook.topic, Outbox.topic, AuditRecorded.topic]


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _always_ready() -> bool:
    return True


@dataclass
class AlertingPorts:
    """The collaborators a test injects instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    config: ConfigStore = field(default_factory=ConfigStore)
    book: AlertBook = field(default_factory=AlertBook)
    outbox: Outbox = field(default_factory=Outbox)
    metrics: MetricsReader | None = None
    secrets: Secrets = field(default_factory=Secrets)
    clock: Callable[[], datetime] = _utcnow
    ready: ReadinessCheck = _always_ready


def _secret_text(settings: AlertingSettings) -> str | None:
    return settings.secrets_json.get_secret_value() if settings.secrets_json else None


class KafkaCloser:
    """:class:`~llmops_alerting.ports.OutboxCloser` over the kit's producer (a tombstone record)."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def close(self, topic: str, keys: Sequence[str]) -> None:
        await self._producer.send_many([(topic, key.encode(), None, ()) for key in keys])


def _services(settings: AlertingSettings, ports: AlertingPorts) -> Services:
    limits = {
        "rule": settings.max_rules_per_tenant,
        "objective": settings.max_objectives_per_tenant,
        "silence": settings.max_silences_per_tenant,
        "notifier": settings.max_notifiers_per_tenant,
    }
    registry = Registry(
        ports.config,
        ports.publisher,
        source=settings.source,
        limits=limits,
        clock=ports.clock,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    engine = Engine(
        ports.book, ports.config, ports.outbox, ports.publisher, settings.source, ports.clock, settings.max_open_alerts
    )
    poller = Poller(
        engine,
        ports.config,
        ports.metrics,
        interval_s=settings.evaluate_interval_s,
        clock=ports.clock,
        max_events=settings.sli_max_events,
        feedback_lookback=timedelta(seconds=settings.feedback_lookback_s),
    )
    return Services(registry, engine, poller, ports.secrets)


def _dispatcher(settings: AlertingSettings, ports: AlertingPorts, closer: OutboxCloser) -> Dispatcher:
    client = guarded_client(AddressPolicy(settings.allowed_networks), settings.notifier_timeout_s)
    sender = Sender(client, ports.secrets)
    timing = Timing(timedelta(seconds=settings.group_wait_s), timedelta(seconds=settings.group_interval_s))
    return Dispatcher(
        ports.outbox,
        ports.config,
        sender,
        closer,
        max_backoff_s=settings.notifier_max_backoff_s,
        timing=timing,
        max_batch=settings.group_max_alerts,
        clock=ports.clock,
    )


class _AfterLoaded:
    """Starts a component once the materialisers have caught up (the dispatcher must see the whole outbox)."""

    def __init__(self, inner: Component, loading: list[CompactedTopicMaterializer]) -> None:
        self._inner = inner
        self._loading = loading
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._start_when_ready(), name="alerting-after-loaded")

    async def _start_when_ready(self) -> None:
        for materializer in self._loading:
            while not await materializer.wait_ready(60.0):
                continue
        await self._inner.start()

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        await self._inner.stop()


async def _kafka_runtime(app: FastAPI, settings: AlertingSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    metrics = warehouse_reader(settings)
    ports = AlertingPorts(
        producer,
        load_api_keys(settings),
        metrics=metrics,
        secrets=Secrets.load(settings.secrets_file, _secret_text(settings)),
    )
    svc = _services(settings, ports)
    setattr(app.state, STATE_KEY, svc)
    stores = [ports.config, ports.book, ports.outbox]
    components: list[Component] = []
    if settings.ensure_topics:
        components.append(TopicProvisioner(bootstrap, TOPICS, security=security))
    loading = materializers(bootstrap, stores, security)
    components += [producer, *loading]
    if metrics is not None:
        components.append(metrics)
    dispatcher = _dispatcher(settings, ports, KafkaCloser(producer))
    components += [_AfterLoaded(dispatcher, loading), _AfterLoaded(svc.poller, loading)]
    components.append(build_consumer(settings, svc.engine, producer))

    async def state_ready() -> bool:
        return all(s.caught_up for s in stores)

    checks = {"kafka": producer.ping, "state": state_ready, **install_api_keys(app, ports.api_keys)}
    return Runtime(components=components, checks=checks)


def create_app(settings: AlertingSettings | None = None, *, ports: AlertingPorts | None = None) -> FastAPI:
    """The alerting app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or AlertingSettings()
    injected: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks={"publisher": ports.ready, **injected})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps alerting",
        description="Objectives with error budgets, alert rules over metrics and event streams, silences, and "
        "notifiers (PagerDuty Events API v2, Slack-compatible webhooks, signed webhooks) fed by a Kafka outbox.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(router)
    if ports is not None:
        setattr(app.state, STATE_KEY, _services(settings, ports))
        injected.update(install_api_keys(app, ports.api_keys))
    return app
