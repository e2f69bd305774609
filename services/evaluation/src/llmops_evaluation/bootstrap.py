"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, configuration view, scorer, probes).

``create_app(settings)`` builds the production wiring inside the lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=EvaluationPorts(...))`` uses the given ports and starts nothing,
which is how unit tests run the real routes against an in-memory publisher.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import GatewayClient, WarehouseReader, gateway_client, warehouse_reader
from llmops_schemas.v1 import (
    AuditRecorded,
    DatasetVersionCreated,
    EvaluatorConfigured,
    ReplayCheckpointed,
    RunUpdated,
    VerdictPolicySet,
)
from llmops_schemas.v2 import CallRecorded, ErasureProcessed, ErasureRequested, EvaluationScored

from llmops_evaluation import __version__
from llmops_evaluation.abtest.policies import PolicyMaterializer, PolicyRegistry, PolicyStore
from llmops_evaluation.abtest.service import ExperimentHistory, VerdictService
from llmops_evaluation.abtest.wiring import install_verdicts, policy_components, service_clients
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import SERVICE, build_consumer, scoring_rules
from llmops_evaluation.entrypoints.datasets_http import SmallBodies, datasets_router
from llmops_evaluation.entrypoints.http import STATE_KEY, router
from llmops_evaluation.entrypoints.model_consumer import build_model_consumer
from llmops_evaluation.entrypoints.runs_http import runs_router
from llmops_evaluation.entrypoints.verdict_http import POLICIES_KEY, VERDICTS_KEY
from llmops_evaluation.entrypoints.verdict_http import router as verdict_router
from llmops_evaluation.judges.adapters import GatewayJudges, WarehouseCalls
from llmops_evaluation.judges.checks import JudgeChecks
from llmops_evaluation.model_stage import ModelStage
from llmops_evaluation.ports import CallHistory, JudgePorts
from llmops_evaluation.registry import EvaluatorRegistry
from llmops_evaluation.replay.http import STATE_KEY as REPLAYS_KEY
from llmops_evaluation.replay.http import router as replay_router
from llmops_evaluation.replay.manager import ReplayManager
from llmops_evaluation.replay.wiring import replay_runtime
from llmops_evaluation.runs.executor import RunExecutor
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.runs.wiring import erasure_consumer, install_runs, run_clients, state_materializer
from llmops_evaluation.semantic.gateway import GatewayEmbedder
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
    judges: JudgePorts | None = None
    """The gateway (and warehouse) judges use; None: judges cannot be configured (422)."""
    history: ExperimentHistory | None = None
    """Where verdicts read experiments from; None: verdicts answer 503 (as without a service key)."""
    policies: PolicyStore = field(default_factory=PolicyStore)
    datasets: DatasetStore = field(default_factory=DatasetStore)
    runs: RunStore = field(default_factory=RunStore)
    gateway: GatewayClient | None = None
    """Where runs send their examples; None: runs cannot execute here (503), as without a gateway URL and key."""
    warehouse: WarehouseReader | None = None
    """Where datasets from calls and run comparisons read; None: those answer 503."""
    replays: ReplayManager | None = None
    """None: the replay routes answer 503 (as on a replica with ``EVALUATION_REPLAYS_ENABLED=false``)."""


StoresReady = Callable[[], Awaitable[object]]


def _verdict_state(app: FastAPI) -> tuple[VerdictService, PolicyRegistry]:
    return getattr(app.state, VERDICTS_KEY), getattr(app.state, POLICIES_KEY)


def _install(
    app: FastAPI, settings: EvaluationSettings, ports: EvaluationPorts, stores_ready: StoresReady | None = None
) -> tuple[dict[str, ReadinessCheck], RunExecutor]:
    evaluators = EvaluatorRegistry(
        ports.store,
        ports.publisher,
        source=settings.source,
        max_per_tenant=settings.max_evaluators_per_tenant,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
        judges=JudgeChecks(ports.judges.gateway if ports.judges else None, retry_after_s=settings.retry_after_s),
    )
    setattr(app.state, STATE_KEY, evaluators)
    if ports.replays is not None:
        setattr(app.state, REPLAYS_KEY, ports.replays)
    install_verdicts(app, settings, ports.publisher, ports.history, ports.policies)
    executor = install_runs(
        app, settings, evaluators, ports.publisher, (ports.datasets, ports.runs), (ports.gateway, ports.warehouse),
        stores_ready,
    )  # fmt: skip
    return install_api_keys(app, ports.api_keys), executor


def _judge_ports(settings: EvaluationSettings) -> tuple[JudgePorts | None, list[Component]]:
    """The gateway (and the warehouse, for pairwise judges) with the service key, when this service has them."""
    # Each judge run holds one slot and a pairwise run sends two requests: the client allows both at once.
    gateway = gateway_client(settings, max_in_flight=2 * settings.judge_max_in_flight)
    if gateway is None:
        return None, []
    clients: list[Component] = [gateway.client]
    history: CallHistory | None = None
    warehouse = warehouse_reader(settings)
    if warehouse is not None:
        history = WarehouseCalls(warehouse)
        clients.append(warehouse.client)
    judges = GatewayJudges(gateway, label_ttl_s=settings.judge_label_ttl_s)
    return JudgePorts(judges, history, functools.partial(GatewayEmbedder, gateway)), clients


async def _kafka_runtime(app: FastAPI, settings: EvaluationSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    store = EvaluatorStore()
    configs = EvaluatorMaterializer(bootstrap, store, security=security)
    loop = build_consumer(settings, store, producer, producer)
    keys = load_api_keys(settings)
    judges, clients = _judge_ports(settings)
    # Verdicts and policies have clients of their own: their reads are bounded apart from the judges'.
    history, gateway = service_clients(settings)
    policies = PolicyStore()
    policy_configs = PolicyMaterializer(bootstrap, policies, security=security)
    gateway_for_runs, warehouse_for_runs = run_clients(settings)
    datasets, runs = DatasetStore(), RunStore()
    states = [state_materializer(bootstrap, view, security) for view in (datasets, runs)]
    # Without a gateway key no judge can be configured, so the model stage would only read calls: not started.
    judging = (
        []
        if judges is None
        else [build_model_consumer(settings, store, ModelStage(judges, scoring_rules(settings)), producer, producer)]
    )
    replays = replay_runtime(settings, store, producer, scoring_rules(settings)) if settings.replays_enabled else None

    async def scorer_ready() -> bool:
        return loop.ready

    async def stores_ready() -> None:
        while not all(await asyncio.gather(*(m.wait_ready(60.0) for m in states))):
            log.info("waiting for the datasets and runs to load before resuming runs")

    ports = EvaluationPorts(
        producer, keys, store, judges, history=history, policies=policies, datasets=datasets, runs=runs,
        gateway=gateway_for_runs, warehouse=warehouse_for_runs, replays=replays.manager if replays else None,
    )  # fmt: skip
    key_checks, executor = _install(app, settings, ports, stores_ready)
    checks: dict[str, ReadinessCheck] = {
        "kafka": producer.ping,
        "evaluators": configs.check,
        "policies": policy_configs.check,
        **{m.topic.rsplit(".", 1)[-1]: m.check for m in states},
        "scorer": scorer_ready,
        **key_checks,
    }
    components: list[Component] = []
    if settings.ensure_topics:
        payloads = (CallRecorded, EvaluationScored, EvaluatorConfigured, AuditRecorded, VerdictPolicySet,
                    DatasetVersionCreated, RunUpdated, ReplayCheckpointed, ErasureRequested,
                    ErasureProcessed)  # fmt: skip
        topics = [payload.topic for payload in payloads]
        components.append(TopicProvisioner(bootstrap, topics, security=security))
    acting = policy_components(settings, history, gateway, *_verdict_state(app))
    run_platform = [c.client for c in (gateway_for_runs, warehouse_for_runs) if c is not None]
    erasing = erasure_consumer(settings, producer, datasets, warehouse_for_runs)
    components += [producer, configs, policy_configs, *states, *clients, *run_platform, executor, loop, *judging,
                   *acting, erasing]  # fmt: skip
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
        # Dataset uploads are the largest bodies (their route bounds them by max_dataset_bytes itself).
        max_body_bytes=max(settings.max_body_bytes, settings.max_dataset_bytes),
    )
    app.add_middleware(SmallBodies, max_bytes=settings.max_body_bytes)
    for routes in (router, verdict_router, datasets_router, runs_router, replay_router):
        app.include_router(routes)
    if ports is not None:
        injected.update(_install(app, settings, ports)[0])
    return app
