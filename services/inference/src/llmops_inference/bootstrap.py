"""Wiring: settings + ports -> the FastAPI app with its runtime (backends, recorder, health monitor).

``create_app(settings)`` reads the keys and the routes file and builds one backend per upstream, a Kafka
publisher that connects in the background, the spool and the recorder; ``create_app(settings,
ports=InferencePorts(...))`` uses the given backends, publisher and seams instead (tests). Either way nothing
connects before the lifespan starts the components: the backends (connection pools), the publisher, the
recorder's tasks and the health monitor, in that order (stopped in reverse, so the recorder flushes last).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from llmops_kit.audit import AuditTrail
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import install_api_keys, load_api_keys
from llmops_kit.budget_feed import BudgetFeed
from llmops_kit.budgets import BudgetLedger
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.http.body_limit import problem_refusal
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import warehouse_reader
from llmops_pii.policy import PolicyBook
from llmops_pii.records import PolicyRecordsView
from llmops_pii.settings import PiiSettings
from starlette.responses import Response
from starlette.types import Scope

from llmops_inference import __version__
from llmops_inference.adapters.budgets import LedgerBudgets
from llmops_inference.adapters.kafka import GATEWAY_TOPICS, BackgroundProducer
from llmops_inference.adapters.native import NATIVE_BACKENDS, native_upstream
from llmops_inference.adapters.noop import NoBudgets, NoExperiments, NoPromptRegistry
from llmops_inference.adapters.openai_upstream import OpenAIUpstream
from llmops_inference.adapters.registries import REGISTRY_PATHS, Registries, install_registries
from llmops_inference.adapters.triton import TritonBackend
from llmops_inference.anthropic_front.errors import anthropic_error_response, install_anthropic_error_handlers
from llmops_inference.anthropic_front.route import MESSAGES_PATH, build_messages_router
from llmops_inference.config import InferenceSettings
from llmops_inference.entrypoints.http import HttpDependencies, build_router, include_registry_routes
from llmops_inference.entrypoints.openapi import install_openapi
from llmops_inference.errors import GatewayError, install_openai_error_handlers, openai_error_response
from llmops_inference.execution import CallRunner
from llmops_inference.features import FeatureBounds
from llmops_inference.handlers import Gateway, Limits
from llmops_inference.health import HealthMonitor
from llmops_inference.limits import RateLimiter
from llmops_inference.policies.enforcer import PolicyEnforcer
from llmops_inference.ports import Backend, BudgetGuard, PromptResolver, VariantChooser
from llmops_inference.prompts.rendering import RenderPool
from llmops_inference.recording.recorder import CallRecorder
from llmops_inference.recording.redaction import BatchRedaction, InThreadRedaction
from llmops_inference.recording.redaction_process import ProcessRedaction
from llmops_inference.recording.spool import Spool
from llmops_inference.resilience import CircuitBreaker
from llmops_inference.router import Router
from llmops_inference.routing_table import RoutingTable

__all__ = ["SERVICE", "InferencePorts", "Wiring", "build_backends", "create_app", "wire"]

SERVICE = "inference"
log = logging.getLogger(__name__)


@dataclass
class InferencePorts:
    """What a test (or an embedding) gives the gateway instead of the configured upstreams and Kafka."""

    api_keys: ApiKeyStore | None
    """None: authenticated routes answer 503 and the gateway is not ready (as without ``LLMOPS_API_KEYS_FILE``)."""
    table: RoutingTable
    backends: Mapping[str, Backend]
    publisher: EventPublisher
    spool_dir: Path
    registries: Registries | None = None
    """The prompt registry and experiments; their seams below default to them when given."""
    chooser: VariantChooser | None = None
    resolver: PromptResolver | None = None
    budget: BudgetGuard = field(default_factory=NoBudgets)
    pii: PolicyBook | None = None
    """The tenants' PII policies applied to recorded calls; None records calls as they are."""
    pii_records: Component | None = None
    """What keeps ``pii``'s tenants equal to their policy records (production: a materialiser)."""
    policies: PolicyEnforcer | None = None
    """The tenants' gateway policies (allow-lists, blocked terms, classifications); None enforces none."""
    retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    """Drives the circuit breakers and the rate limiter (tests move it instead of sleeping)."""


@dataclass
class Wiring:
    """Everything built for one app; ``components`` in start order."""

    gateway: Gateway
    router: Router
    recorder: CallRecorder
    monitor: HealthMonitor
    publisher: EventPublisher
    components: list[Component]
    registries: Registries | None = None


def build_backends(table: RoutingTable) -> dict[str, Backend]:
    """One backend (one connection pool) per upstream of the routes file."""
    backends: dict[str, Backend] = {}
    for upstream in table.upstreams:
        kind = table.backend_of(upstream.name)
        if kind == "triton":
            backends[upstream.name] = TritonBackend(upstream)
        elif kind in NATIVE_BACKENDS:
            backends[upstream.name] = native_upstream(kind, upstream)
        else:
            backends[upstream.name] = OpenAIUpstream(upstream)
    return backends


def _production_ports(settings: InferenceSettings) -> InferencePorts:
    if settings.routes_file is None:
        log.warning("INFERENCE_ROUTES_FILE is not set: the gateway serves no model")
    table = RoutingTable.load(settings.routes_file) if settings.routes_file else RoutingTable()
    publisher = BackgroundProducer(
        settings.kafka_bootstrap_servers,
        service=SERVICE,
        ensure_topic=settings.ensure_topics,
        topics=GATEWAY_TOPICS,
        security=settings.kafka_security,
    )
    return InferencePorts(
        api_keys=load_api_keys(settings),
        table=table,
        backends=build_backends(table),
        publisher=publisher,
        spool_dir=settings.spool_dir,
        registries=Registries.from_kafka(settings.kafka_bootstrap_servers, settings.kafka_security),
        budget=_budgets(settings),
        **_pii_policies(settings),
        policies=PolicyEnforcer.following(
            settings.kafka_bootstrap_servers, settings.kafka_security, AuditTrail(publisher, source=settings.source)
        ),
    )


def _budgets(settings: InferenceSettings) -> LedgerBudgets:
    """Budgets from the cost service's topics, enforced locally (docs/adr/0038)."""
    ledger = BudgetLedger(default_estimate=settings.budget_default_estimate_usd, hold_s=settings.budget_hold_s)
    feed = BudgetFeed(
        settings.kafka_bootstrap_servers, ledger, security=settings.kafka_security, client_id=SERVICE,
        history=warehouse_reader(settings), seed_max_events=settings.budget_seed_max_events,
        seed_timeout_s=settings.budget_seed_timeout_s,
    )  # fmt: skip
    return LedgerBudgets(ledger, feed)


def _pii_policies(settings: InferenceSettings) -> dict[str, Any]:
    """The PII policy book and the materialiser of the tenants' policy records, or nothing when disabled."""
    pii = PiiSettings()
    if not pii.enabled:
        return {}
    book = pii.policy_book()
    records = CompactedTopicMaterializer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=PolicyRecordsView.topic,
        view=PolicyRecordsView(book),
        client_id="llmops-inference-pii-policies",
        security=settings.kafka_security,
    )
    return {"pii": book, "pii_records": records}


def wire(settings: InferenceSettings, ports: InferencePorts) -> Wiring:
    """Build the gateway's objects (no I/O but creating the spool directory)."""
    breakers = {
        name: CircuitBreaker(
            name, failure_threshold=settings.breaker_failures, cooldown_s=settings.breaker_cooldown_s, clock=ports.clock
        )
        for name in ports.backends
    }
    router = Router(
        ports.table,
        ports.backends,
        breakers,
        retries=settings.retries,
        backoff_s=settings.retry_backoff_s,
        sleep=ports.retry_sleep,
    )
    recorder = CallRecorder(
        ports.publisher,
        Spool(ports.spool_dir, max_bytes=settings.spool_max_bytes, max_events=settings.spool_max_events),
        buffer_size=settings.record_buffer,
        batch_size=settings.record_batch,
        publish_timeout_s=settings.publish_timeout_s,
        replay_interval_s=settings.replay_interval_s,
        overflow_events=settings.record_overflow_events,
        overflow_bytes=settings.record_overflow_bytes,
        redact=_redaction(settings, ports.pii),
        linger_s=settings.record_linger_ms / 1000,
    )
    limiter = RateLimiter(settings.requests_per_minute, settings.tokens_per_minute, clock=ports.clock)
    runner = CallRunner(router=router, recorder=recorder, limiter=limiter, budget=ports.budget, policies=ports.policies)
    limits = Limits(
        settings.max_prompt_chars,
        settings.max_tokens_limit,
        settings.default_max_tokens,
        max_embedding_inputs=settings.max_embedding_inputs,
        features=FeatureBounds(settings.max_n, settings.max_image_bytes, settings.max_schema_bytes),
    )
    registries = ports.registries
    if registries is not None:
        registries.renderer = RenderPool(settings.render_workers, settings.max_pending_renders)
    chooser = ports.chooser or (registries.chooser() if registries else NoExperiments())
    resolver = ports.resolver or (
        registries.resolver(max_chain_steps=settings.max_chain_steps) if registries else NoPromptRegistry()
    )
    gateway = Gateway(runner, chooser, resolver, limits, settings.source, settings.environment)
    monitor = HealthMonitor(ports.table, ports.backends, breakers, interval_s=settings.health_interval_s)
    components: list[Component] = [*ports.backends.values()]
    if isinstance(ports.publisher, BackgroundProducer):
        components.append(ports.publisher)
    if registries is not None:
        components += [*registries.materializers.values(), registries.renderer]
    if ports.pii_records is not None:
        components.append(ports.pii_records)
    if isinstance(ports.budget, LedgerBudgets):
        components.append(ports.budget)
    if ports.policies is not None:
        components.append(ports.policies)
    components += [recorder, monitor, _Stops(gateway)]
    return Wiring(gateway, router, recorder, monitor, ports.publisher, components, registries)


def _redaction(settings: InferenceSettings, pii: PolicyBook | None) -> BatchRedaction | None:
    if pii is None:
        return None
    return ProcessRedaction(pii.for_tenant) if settings.redact_in == "process" else InThreadRedaction(pii.for_tenant)


@dataclass
class _Stops:
    """Stops the gateway's shadow calls first (started last), so their events still reach the recorder."""

    gateway: Gateway

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.gateway.stop()


def create_app(settings: InferenceSettings | None = None, *, ports: InferencePorts | None = None) -> FastAPI:
    """The gateway app: production wiring from ``settings``, or the injected ``ports``."""
    settings = settings or InferenceSettings()
    ports = ports or _production_ports(settings)
    wiring = wire(settings, ports)
    key_checks: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        return Runtime(components=list(wiring.components), readiness=lambda: _readiness(wiring, key_checks))

    app = create_service_app(
        service=SERVICE,
        title="LLMOps inference gateway",
        description="An OpenAI-compatible API over Triton and OpenAI-compatible upstreams; every call is recorded.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
        body_refusal=_refuse_body,
    )
    install_openai_error_handlers(app)
    app.include_router(build_router())
    app.include_router(build_messages_router())
    install_anthropic_error_handlers(app, MESSAGES_PATH)
    if wiring.registries is not None:
        install_registries(app, wiring.registries, ports.publisher, source=settings.source)
        include_registry_routes(app)
    install_openapi(app)
    key_checks.update(install_api_keys(app, ports.api_keys))
    app.state.inference = HttpDependencies(
        wiring.gateway,
        settings.max_body_bytes,
        settings.default_app,
        int(time.time()),
        feedback_tokens=settings.feedback_tokens.signer(),
    )
    app.state.wiring = wiring
    return app


def _refuse_body(scope: Scope, status: int, detail: str, limit: int) -> Response:
    """A refused body in the shape of the route: problem+json on the registries, Anthropic's on /v1/messages,
    OpenAI's error elsewhere."""
    if str(scope.get("path", "")).startswith(REGISTRY_PATHS):
        return problem_refusal(scope, status, detail, limit)
    if scope.get("path") == MESSAGES_PATH:
        return anthropic_error_response(GatewayError(status, detail))
    code = "request_too_large" if status == 413 else "invalid_request"
    return openai_error_response(GatewayError(status, detail, code=code))


async def _readiness(wiring: Wiring, key_checks: dict[str, ReadinessCheck]) -> tuple[bool, dict[str, Any]]:
    """Readiness is "some model has a healthy upstream" (and keys are configured), not "Kafka answers": the
    gateway serves without Kafka. `upstreams` has each upstream's probe and circuit state; `recording` whether
    events reach Kafka; `checks.prompts`/`checks.experiments` whether the registries caught up (details only).
    """
    keys = {name: await check() for name, check in key_checks.items()}
    ready = wiring.monitor.ready() and all(keys.values())
    recorder = wiring.recorder
    connected = bool(getattr(wiring.publisher, "connected", True))
    registries = await wiring.registries.details() if wiring.registries else {}
    policies = wiring.gateway.runner.policies
    if isinstance(policies, PolicyEnforcer):  # details only: calls are admitted until the policies are loaded
        registries["policies"] = policies.ready
    body = {
        "ready": ready,
        "checks": {"started": True, "backends": wiring.monitor.ready(), **keys, **registries},
        "upstreams": wiring.monitor.details(),
        "recording": {"kafka": recorder.kafka_up and connected, "spooled": recorder.spool.pending},
    }
    return ready, body
