"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, configuration view, scorer, probes).

``create_app(settings)`` builds the production wiring inside the lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=EvaluationPorts(...))`` uses the given ports and starts nothing,
which is how unit tests run the real routes against an in-memory publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import GatewayClient, PlatformClient, WarehouseReader
from llmops_kit.settings import KafkaSecurity
from llmops_schemas.v1 import AuditRecorded, DatasetVersionCreated, EvaluatorConfigured, RunUpdated
from llmops_schemas.v2 import CallRecorded, EvaluationScored

from llmops_evaluation import __version__
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import SERVICE, build_consumer
from llmops_evaluation.entrypoints.datasets_http import DATASETS_KEY, WAREHOUSE_KEY, SmallBodies, datasets_router
from llmops_evaluation.entrypoints.http import STATE_KEY, router
from llmops_evaluation.entrypoints.runs_http import RUNS_KEY, runs_router
from llmops_evaluation.registry import EvaluatorRegistry
from llmops_evaluation.runs.datasets import DatasetLimits, DatasetRegistry
from llmops_evaluation.runs.executor import RunExecutor, RunLimits
from llmops_evaluation.runs.service import RunRegistry
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.store import EvaluatorMaterializer, EvaluatorStore

__all__ = ["SERVICE", "EvaluationPorts", "create_app"]

log = logging.getLogger(__name__)


@dataclass
class EvaluationPorts:
    """The collaborators a test can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: authenticated routes answer 503 (as without ``LLMOPS_API_KEYS_FILE``)."""
    store: EvaluatorStore = field(default_factory=EvaluatorStore)
    datasets: DatasetStore = field(default_factory=DatasetStore)
    runs: RunStore = field(default_factory=RunStore)
    gateway: GatewayClient | None = None
    """None: runs cannot execute here (503), as without a gateway URL and service key."""
    warehouse: WarehouseReader | None = None
    """None: datasets from calls and comparisons answer 503."""


def _install(
    app: FastAPI,
    settings: EvaluationSettings,
    ports: EvaluationPorts,
    stores_ready: Callable[[], Awaitable[object]] | None = None,
) -> RunExecutor:
    evaluators = EvaluatorRegistry(
        ports.store,
        ports.publisher,
        source=settings.source,
        max_per_tenant=settings.max_evaluators_per_tenant,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    limits = DatasetLimits(
        settings.max_dataset_examples,
        settings.publish_timeout_s,
        settings.retry_after_s,
        max_versions=settings.max_dataset_versions,
        max_datasets=settings.max_datasets_per_tenant,
    )
    datasets = DatasetRegistry(ports.datasets, ports.publisher, source=settings.source, limits=limits)
    executor = RunExecutor(
        ports.datasets,
        ports.runs,
        ports.publisher,
        ports.gateway,
        source=settings.source,
        limits=RunLimits(
            concurrency=settings.run_concurrency,
            chunk=settings.run_chunk,
            max_active=settings.max_active_runs,
            max_output_chars=settings.max_output_chars,
            budget_s=settings.evaluator_budget_s,
            lease_s=settings.run_lease_s,
        ),
        stores_ready=stores_ready,
    )
    runs = RunRegistry(ports.runs, datasets, evaluators, executor, ports.publisher, ports.warehouse,
                       source=settings.source)  # fmt: skip
    state = {STATE_KEY: evaluators, DATASETS_KEY: datasets, RUNS_KEY: runs, WAREHOUSE_KEY: ports.warehouse}
    for key, value in {**state, "max_dataset_bytes": settings.max_dataset_bytes}.items():
        setattr(app.state, key, value)
    return executor


def _materializer(bootstrap: str, store: CompactedStore, security: KafkaSecurity) -> CompactedTopicMaterializer:
    name = store.topic.rsplit(".", 1)[-1]
    return CompactedTopicMaterializer(
        bootstrap_servers=bootstrap, topic=store.topic, view=store, client_id=f"llmops-evaluation-{name}",
        security=security,
    )  # fmt: skip


def _platform_clients(
    settings: EvaluationSettings,
) -> tuple[list[PlatformClient], GatewayClient | None, WarehouseReader | None]:
    """The gateway and warehouse clients the settings allow (a URL and the service key each)."""
    key = settings.service_key.get_secret_value() if settings.service_key else None
    if key is None:
        return [], None, None
    gateway = (
        PlatformClient("gateway", settings.gateway_url, key) if settings.gateway_url and settings.run_worker else None
    )
    warehouse = PlatformClient("warehouse", settings.warehouse_url, key) if settings.warehouse_url else None
    clients = [c for c in (gateway, warehouse) if c is not None]
    return (clients, GatewayClient(gateway) if gateway else None, WarehouseReader(warehouse) if warehouse else None)


async def _kafka_runtime(app: FastAPI, settings: EvaluationSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    store = EvaluatorStore()
    configs = EvaluatorMaterializer(bootstrap, store, security=security)
    loop = build_consumer(settings, store, producer, producer)
    keys = load_api_keys(settings.api_keys_file)
    clients, gateway, warehouse = _platform_clients(settings)
    ports = EvaluationPorts(producer, keys, store, gateway=gateway, warehouse=warehouse)
    states = [_materializer(bootstrap, view, security) for view in (ports.datasets, ports.runs)]

    async def scorer_ready() -> bool:
        return loop.ready

    checks: dict[str, ReadinessCheck] = {
        "kafka": producer.ping,
        "evaluators": configs.check,
        "scorer": scorer_ready,
        **{f"{m.topic.rsplit('.', 1)[-1]}": m.check for m in states},
        **install_api_keys(app, ports.api_keys),
    }

    async def stores_ready() -> None:
        while not all(await asyncio.gather(*(m.wait_ready(60.0) for m in states))):
            log.info("waiting for the datasets and runs to load before resuming runs")

    executor = _install(app, settings, ports, stores_ready)
    components: list[Component] = []
    if settings.ensure_topics:
        topics = [CallRecorded.topic, EvaluationScored.topic, EvaluatorConfigured.topic, AuditRecorded.topic,
                  DatasetVersionCreated.topic, RunUpdated.topic]  # fmt: skip
        components.append(TopicProvisioner(bootstrap, topics, security=security))
    components += [producer, configs, *states, *clients, executor, loop]
    return Runtime(components=components, checks=checks)


def create_app(settings: EvaluationSettings | None = None, *, ports: EvaluationPorts | None = None) -> FastAPI:
    """The evaluation app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or EvaluationSettings()
    injected: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks=dict(injected))
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps evaluation",
        description="Scores recorded calls with the evaluators each tenant configures, and manages those evaluators.",
        version=__version__,
        build_runtime=build_runtime,
        # Dataset uploads are the largest bodies (their route bounds them by max_dataset_bytes itself).
        max_body_bytes=max(settings.max_body_bytes, settings.max_dataset_bytes),
    )
    app.add_middleware(SmallBodies, max_bytes=settings.max_body_bytes)
    for routes in (router, datasets_router, runs_router):
        app.include_router(routes)
    if ports is not None:
        _install(app, settings, ports)
        injected.update(install_api_keys(app, ports.api_keys))
    return app
