"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, configuration view, scorer, probes).

``create_app(settings)`` builds the production wiring inside the lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=EvaluationPorts(...))`` uses the given ports and starts nothing,
which is how unit tests run the real routes against an in-memory publisher.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import GatewayClient, PlatformClient, WarehouseReader
from llmops_schemas.v1 import AuditRecorded, EvaluatorConfigured
from llmops_schemas.v2 import CallRecorded, EvaluationScored

from llmops_evaluation import __version__
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import SERVICE, build_consumer, scoring_rules
from llmops_evaluation.entrypoints.http import STATE_KEY, router
from llmops_evaluation.entrypoints.model_consumer import build_model_consumer
from llmops_evaluation.judges.adapters import GatewayJudges, WarehouseCalls
from llmops_evaluation.judges.checks import JudgeChecks
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import CallHistory, JudgePorts
from llmops_evaluation.registry import EvaluatorRegistry
from llmops_evaluation.semantic.gateway import GatewayEmbedder
from llmops_evaluation.store import EvaluatorMaterializer, EvaluatorStore

__all__ = ["SERVICE", "EvaluationPorts", "create_app"]


@dataclass
class EvaluationPorts:
    """The collaborators a test can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: authenticated routes answer 503 (as without ``LLMOPS_API_KEYS_FILE``)."""
    store: EvaluatorStore = field(default_factory=EvaluatorStore)
    judges: JudgePorts | None = None
    """The gateway (and warehouse) judges use; None: judges cannot be configured (422)."""


def _install(app: FastAPI, settings: EvaluationSettings, ports: EvaluationPorts) -> dict[str, ReadinessCheck]:
    setattr(
        app.state,
        STATE_KEY,
        EvaluatorRegistry(
            ports.store,
            ports.publisher,
            source=settings.source,
            max_per_tenant=settings.max_evaluators_per_tenant,
            publish_timeout_s=settings.publish_timeout_s,
            retry_after_s=settings.retry_after_s,
            judges=JudgeChecks(ports.judges.gateway if ports.judges else None, retry_after_s=settings.retry_after_s),
        ),
    )
    return install_api_keys(app, ports.api_keys)


def _judge_ports(settings: EvaluationSettings) -> tuple[JudgePorts | None, list[Component]]:
    """The gateway (and the warehouse, for pairwise judges) with the service key, when this service has them."""
    if not settings.gateway_url or settings.service_key is None:
        return None, []
    key = settings.service_key.get_secret_value()
    # Each judge run holds one slot and a pairwise run sends two requests: the client allows both at once.
    gateway = PlatformClient("gateway", settings.gateway_url, key, max_in_flight=2 * settings.judge_max_in_flight)
    clients: list[Component] = [gateway]
    history: CallHistory | None = None
    if settings.warehouse_url:
        warehouse = PlatformClient("warehouse", settings.warehouse_url, key)
        history = WarehouseCalls(WarehouseReader(warehouse))
        clients.append(warehouse)
    client = GatewayClient(gateway)
    judges = GatewayJudges(client, label_ttl_s=settings.judge_label_ttl_s)
    return JudgePorts(judges, history, functools.partial(GatewayEmbedder, client)), clients


async def _kafka_runtime(app: FastAPI, settings: EvaluationSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    store = EvaluatorStore()
    configs = EvaluatorMaterializer(bootstrap, store, security=security)
    loop = build_consumer(settings, store, producer, producer)
    keys = load_api_keys(settings.api_keys_file)
    judges, clients = _judge_ports(settings)
    # Without a gateway key no judge can be configured, so the model stage would only read calls: not started.
    judging = (
        []
        if judges is None
        else [build_model_consumer(settings, store, ModelStage(judges, scoring_rules(settings)), producer, producer)]
    )

    async def scorer_ready() -> bool:
        return loop.ready

    checks: dict[str, ReadinessCheck] = {
        "kafka": producer.ping,
        "evaluators": configs.check,
        "scorer": scorer_ready,
        **_install(app, settings, EvaluationPorts(producer, keys, store, judges)),
    }
    components: list[Component] = []
    if settings.ensure_topics:
        topics = [CallRecorded.topic, EvaluationScored.topic, EvaluatorConfigured.topic, AuditRecorded.topic]
        components.append(TopicProvisioner(bootstrap, topics, security=security))
    components += [producer, configs, *clients, loop, *judging]
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
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(router)
    if ports is not None:
        injected.update(_install(app, settings, ports))
    return app
