"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, prices, pricer, probes).

``create_app(settings)`` builds the production wiring inside the app's lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=CostPorts(...))`` uses the given ports instead and starts nothing,
which is how tests run the real routes against the kit's in-memory publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.budget_feed import BudgetFeed
from llmops_kit.budgets import BudgetLedger
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import warehouse_reader
from llmops_kit.warehouse import HistoryReader
from llmops_schemas.v1 import (
    AlertStateChanged,
    AuditRecorded,
    BudgetConfigured,
    BudgetStateChanged,
    PricePublished,
)
from llmops_schemas.v2 import CallRecorded, CostRecorded

from llmops_cost import __version__
from llmops_cost.anomalies import AnomalyWatch, Hourly
from llmops_cost.budgets import BudgetDesk
from llmops_cost.config import CostSettings
from llmops_cost.desk import CostDesk, DeskLimits
from llmops_cost.entrypoints.budgets_http import BUDGETS, budgets_router
from llmops_cost.entrypoints.consumer import SERVICE, build_consumer
from llmops_cost.entrypoints.http import DESK, router
from llmops_cost.handlers import Pricer
from llmops_cost.prices import PriceBook, PriceStore, load_catalog
from llmops_cost.thresholds import Ownership, ThresholdNotifier
from llmops_cost.tokens import TokenCounter

__all__ = ["SERVICE", "TOPICS", "CostPorts", "create_app"]

TOPICS = [
    CallRecorded.topic, CostRecorded.topic, PricePublished.topic, AuditRecorded.topic, BudgetConfigured.topic,
    BudgetStateChanged.topic, AlertStateChanged.topic,
]  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _always_ready() -> bool:
    return True


@dataclass
class CostPorts:
    """The collaborators a test (or an embedding) can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: key-authenticated requests answer 503 (as without ``LLMOPS_API_KEYS_FILE``)."""
    book: PriceBook = field(default_factory=lambda: PriceBook(load_catalog()))
    history: HistoryReader | None = None
    """The warehouse's cost records; None: reports answer 503."""
    ledger: BudgetLedger = field(default_factory=BudgetLedger)
    clock: Callable[[], datetime] = _utcnow
    ready: ReadinessCheck = _always_ready


def _install(app: FastAPI, settings: CostSettings, ports: CostPorts) -> dict[str, ReadinessCheck]:
    """Put the desk the routes use on ``app.state``; the readiness checks of the keys."""
    limits = DeskLimits(settings.report_max_rows, settings.publish_timeout_s, settings.retry_after_s)
    desk = CostDesk(ports.book, TokenCounter(), ports.publisher, ports.history, settings.source, limits, ports.clock)
    setattr(app.state, DESK, desk)
    budgets = BudgetDesk(
        ports.ledger, ports.publisher, settings.source, ports.clock, settings.publish_timeout_s, settings.retry_after_s
    )
    setattr(app.state, BUDGETS, budgets)
    return install_api_keys(app, ports.api_keys)


async def _kafka_runtime(app: FastAPI, settings: CostSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    book = PriceBook(load_catalog())
    store = PriceStore(book)
    prices = CompactedTopicMaterializer(
        bootstrap_servers=bootstrap, topic=PricePublished.topic, view=store, client_id="cost-prices", security=security
    )
    pricer = Pricer(book, TokenCounter(), settings.source, _utcnow)
    loop = build_consumer(settings, store, pricer, producer, producer)
    history = warehouse_reader(settings)
    ledger = BudgetLedger()
    owner = Ownership(bootstrap, group_id=settings.thresholds_group, security=security)

    async def spend_known() -> None:
        while not await feed.wait_ready(60):
            continue

    notifier = ThresholdNotifier(producer, owner, ledger, spend_known, source=settings.source, clock=_utcnow)
    # The feed's own warehouse client (it starts and stops it): older spend of monthly and total budgets.
    feed = BudgetFeed(
        bootstrap, ledger, on_crossings=notifier.crossed, security=security, client_id="cost-budgets",
        history=warehouse_reader(settings), seed_max_events=settings.budget_seed_max_events,
        seed_timeout_s=settings.budget_seed_timeout_s,
    )  # fmt: skip
    components: list[Component] = []
    if settings.ensure_topics:
        components.append(TopicProvisioner(bootstrap, TOPICS, security=security))
    components += [producer, prices, feed, owner, notifier, loop]
    ports = CostPorts(producer, load_api_keys(settings), book=book, history=history, ledger=ledger)
    checks = {
        "kafka": producer.ping, "prices": prices.check, "budgets": feed.check, "budget_events": owner.check,
        **_install(app, settings, ports),
    }  # fmt: skip
    if history is not None:
        components += [history, _anomaly_watch(app, settings, pricer, producer)]
    return Runtime(components=components, checks=checks)


def _anomaly_watch(app: FastAPI, settings: CostSettings, pricer: Pricer, producer: EventProducer) -> AnomalyWatch:
    """Spend spikes of every tenant priced, from the warehouse's hourly report (the desk's bounded read)."""
    desk: CostDesk = getattr(app.state, DESK)

    async def hourly(tenant: str, group_by: str, start: datetime, end: datetime) -> Hourly:
        rows = await desk.report(tenant, group_by, "hour", start, end)  # type: ignore[arg-type]
        return [(row.period_start, row.group, float(row.usd)) for row in rows]

    return AnomalyWatch(
        hourly, lambda: sorted(pricer.tenants), producer, source=settings.source, interval_s=settings.anomaly_interval_s
    )


def create_app(settings: CostSettings | None = None, *, ports: CostPorts | None = None) -> FastAPI:
    """The cost app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or CostSettings()
    injected: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks={"publisher": ports.ready, **injected})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps cost",
        description="Prices every recorded call from an effective-dated catalog seeded from LiteLLM's price map, "
        "with tenants' negotiated prices, and reports spend per app, model, prompt version, variant and key.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(router)
    app.include_router(budgets_router)
    if ports is not None:
        # Set now rather than in the lifespan, so a test client that skips the lifespan still works.
        injected.update(_install(app, settings, ports))
    return app
