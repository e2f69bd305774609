"""Wiring: settings + ports -> the FastAPI app with its runtime (producer, topics, probes).

``create_app(settings)`` builds the production wiring inside the app's lifespan (Kafka clients need a running
event loop). ``create_app(settings, ports=FeedbackPorts(...))`` uses the given ports instead and starts nothing,
which is how tests run the real routes against the kit's in-memory publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.erasure import ErasureLimits, ErasureWorker, ProducerTombstones
from llmops_kit.erasure_consumer import erasure_loop
from llmops_kit.feedback_tokens import TOKEN_HEADER, FeedbackTokenVerifier
from llmops_kit.http.app import Component, ReadinessCheck, Runtime, create_service_app
from llmops_kit.http.limits import InFlightLimiter
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import WarehouseReader, warehouse_reader
from llmops_kit.warehouse import HistoryReader
from llmops_schemas.v1 import AuditRecorded, ReviewItemUpdated, ReviewQueueConfigured
from llmops_schemas.v2 import ErasureProcessed, ErasureRequested, FeedbackReceived

from llmops_feedback import __version__
from llmops_feedback.adapters.rate_limit import WindowedSubmissionLimit
from llmops_feedback.config import FeedbackSettings
from llmops_feedback.entrypoints.export_http import EXPORTER, export_router
from llmops_feedback.entrypoints.http import LIMITER, HttpDependencies, build_router
from llmops_feedback.entrypoints.openapi import install_openapi
from llmops_feedback.entrypoints.review_http import DESK, review_router
from llmops_feedback.export.service import Exporter
from llmops_feedback.handlers import FeedbackRules
from llmops_feedback.ports import SubmissionLimit
from llmops_feedback.review.desk import DeskLimits, ReviewDesk
from llmops_feedback.review.erasure import ReviewErasure
from llmops_feedback.review.state import ReviewState, materializers

__all__ = ["SERVICE", "FeedbackPorts", "create_app"]

SERVICE = "feedback"


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _always_ready() -> bool:
    return True


@dataclass
class FeedbackPorts:
    """The collaborators a test (or an embedding) can inject instead of the Kafka-backed ones."""

    publisher: EventPublisher
    api_keys: ApiKeyStore | None
    """None: key-authenticated requests answer 503 (as without ``LLMOPS_API_KEYS_FILE``)."""
    verifier: FeedbackTokenVerifier | None = None
    """None: feedback tokens are refused with 503 (as without ``LLMOPS_FEEDBACK_TOKEN_SECRET``)."""
    submissions: SubmissionLimit | None = None
    """None: the limit the settings describe."""
    clock: Callable[[], datetime] = _utcnow
    ready: ReadinessCheck = _always_ready
    review_state: ReviewState = field(default_factory=ReviewState)
    """The materialised review queues (a test marks it caught up, or feeds it records)."""
    history: HistoryReader | None = None
    """The warehouse's history; None: sources and exports that need it answer 503."""


def _submission_limit(settings: FeedbackSettings) -> SubmissionLimit:
    return WindowedSubmissionLimit(
        settings.token_submissions_per_call, settings.token_window_s, settings.token_max_tracked_calls
    )


def _install(app: FastAPI, settings: FeedbackSettings, ports: FeedbackPorts) -> dict[str, ReadinessCheck]:
    """Put what the routes read on ``app.state``; the readiness checks of the keys (see ``install_api_keys``)."""
    app.state.feedback = HttpDependencies(
        publisher=ports.publisher,
        verifier=ports.verifier,
        # Not `or`: an empty limit has len() 0, so it is falsy.
        submissions=_submission_limit(settings) if ports.submissions is None else ports.submissions,
        clock=ports.clock,
        source=settings.source,
        rules=FeedbackRules(
            max_future_skew=timedelta(seconds=settings.max_future_skew_s), max_age=timedelta(days=settings.max_age_days)
        ),
        max_body_bytes=settings.max_body_bytes,
        max_items=settings.max_batch_items,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    limits = DeskLimits(
        max_queues_per_tenant=settings.review_max_queues_per_tenant,
        max_items_per_queue=settings.review_max_items_per_queue,
        max_history_rows=settings.history_max_rows,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    desk = ReviewDesk(
        ports.review_state, ports.publisher, ports.history, source=settings.source, limits=limits, clock=ports.clock
    )
    setattr(app.state, DESK, desk)
    exporter = Exporter(
        ports.history, max_rows=settings.history_max_rows, clock=ports.clock, max_running=settings.max_running_exports
    )
    setattr(app.state, EXPORTER, exporter)
    return install_api_keys(app, ports.api_keys)


TOPICS = [FeedbackReceived.topic, ReviewQueueConfigured.topic, ReviewItemUpdated.topic, AuditRecorded.topic,
          ErasureRequested.topic, ErasureProcessed.topic]  # fmt: skip


def _history(settings: FeedbackSettings) -> WarehouseReader | None:
    """The warehouse with the service key (``LLMOPS_WAREHOUSE_URL``, ``LLMOPS_SERVICE_KEY``), or None."""
    return warehouse_reader(settings)


def _erasure(
    settings: FeedbackSettings, producer: EventProducer, state: ReviewState, history: WarehouseReader | None
) -> Component:
    """The consumer that erases data subjects from the review items (docs/adr/0044)."""
    worker = ErasureWorker(
        service=SERVICE, source=settings.source, state=ReviewErasure(state), tombstones=ProducerTombstones(producer),
        publisher=producer, calls=history, limits=ErasureLimits(max_calls=settings.erasure_max_calls),
    )  # fmt: skip
    return erasure_loop(
        worker, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=settings.erasure_group,
        producer=producer, service=SERVICE, security=settings.kafka_security,
    )  # fmt: skip


async def _kafka_runtime(app: FastAPI, settings: FeedbackSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    state = ReviewState()
    history = _history(settings)
    components: list[Component] = []
    if settings.ensure_topics:
        components.append(TopicProvisioner(bootstrap, TOPICS, security=security))
    components += [producer, *materializers(bootstrap, state, security)]
    if history is not None:
        components.append(history)
    components.append(_erasure(settings, producer, state, history))
    keys = load_api_keys(settings)
    verifier = settings.feedback_tokens.verifier()
    ports = FeedbackPorts(producer, keys, verifier=verifier, review_state=state, history=history)

    async def review_ready() -> bool:
        return state.caught_up

    checks = {"kafka": producer.ping, "review_queues": review_ready, **_install(app, settings, ports)}
    return Runtime(components=components, checks=checks)


def _allow_browsers(app: FastAPI, origins: list[str]) -> None:
    """CORS for the configured origins: a page posts feedback with its token (no cookies, no key)."""
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Content-Type", "traceparent", TOKEN_HEADER],
            max_age=600,
        )


def create_app(settings: FeedbackSettings | None = None, *, ports: FeedbackPorts | None = None) -> FastAPI:
    """The feedback app: production wiring from ``settings``, or the injected ``ports`` (nothing started)."""
    settings = settings or FeedbackSettings()

    injected: dict[str, ReadinessCheck] = {}

    async def build_runtime(app: FastAPI) -> Runtime:
        if ports is not None:
            return Runtime(checks={"publisher": ports.ready, **injected})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps feedback",
        description="Accepts feedback on calls (thumbs, ratings, labels, comments, corrections) from reviewers "
        "with an API key and from end users with the feedback token of the gateway's answer.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(build_router(settings.max_batch_items))
    app.include_router(review_router)
    app.include_router(export_router)
    install_openapi(app)
    _allow_browsers(app, settings.cors_origins)
    setattr(app.state, LIMITER, InFlightLimiter(settings.max_in_flight_per_key, what="feedback requests"))
    if ports is not None:
        # Set now rather than in the lifespan, so a test client that skips the lifespan still works.
        injected.update(_install(app, settings, ports))
    return app
