"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, configuration view, scorer, probes).

``create_app(settings)`` builds the production wiring inside the lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=EvaluationPorts(...))`` uses the given ports and starts nothing,
which is how unit tests run the real routes against an in-memory publisher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.v1 import AuditRecorded, EvaluatorConfigured, ReplayCheckpointed
from llmops_schemas.v2 import CallRecorded, EvaluationScored

from llmops_evaluation import __version__
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import SERVICE, build_consumer, scoring_rules
from llmops_evaluation.entrypoints.http import STATE_KEY, router
from llmops_evaluation.registry import EvaluatorRegistry
from llmops_evaluation.replay import http as replay_http
from llmops_evaluation.replay.manager import ReplayManager
from llmops_evaluation.replay.wiring import replay_runtime
from llmops_evaluation.store import EvaluatorMaterializer, EvaluatorStore

__all__ = ["SERVICE", "EvaluationPorts", "create_app"]


@dataclass
class EvaluationPorts:
    """The collaborators a test can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: authenticated routes answer 503 (as without ``LLMOPS_API_KEYS_FILE``)."""
    store: EvaluatorStore = field(default_factory=EvaluatorStore)
    replays: ReplayManager | None = None
    """None: the replay routes answer 503 (as on a replica with ``EVALUATION_REPLAYS_ENABLED=false``)."""


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
        ),
    )
    if ports.replays is not None:
        setattr(app.state, replay_http.STATE_KEY, ports.replays)
    return install_api_keys(app, ports.api_keys)


async def _kafka_runtime(app: FastAPI, settings: EvaluationSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    store = EvaluatorStore()
    configs = EvaluatorMaterializer(bootstrap, store, security=security)
    loop = build_consumer(settings, store, producer, producer)
    keys = load_api_keys(settings.api_keys_file)
    replays = replay_runtime(settings, store, producer, scoring_rules(settings)) if settings.replays_enabled else None

    async def scorer_ready() -> bool:
        return loop.ready

    checks: dict[str, ReadinessCheck] = {
        "kafka": producer.ping,
        "evaluators": configs.check,
        "scorer": scorer_ready,
        **_install(app, settings, EvaluationPorts(producer, keys, store, replays.manager if replays else None)),
    }
    components: list[Component] = []
    if settings.ensure_topics:
        topics = [CallRecorded.topic, EvaluationScored.topic, EvaluatorConfigured.topic, AuditRecorded.topic]
        components.append(TopicProvisioner(bootstrap, [*topics, ReplayCheckpointed.topic], security=security))
    components += [producer, configs, loop]
    if replays is not None:
        checks["replays"] = replays.materializer.check
        components += [c for c in (replays.client, replays.materializer, replays.manager) if c is not None]
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
    app.include_router(replay_http.router)
    if ports is not None:
        injected.update(_install(app, settings, ports))
    return app
