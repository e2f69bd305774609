"""Wiring: settings -> the FastAPI app with its runtime (topics, producer, the faust worker, probes).

``create_app(settings)`` builds everything inside the app's lifespan (Kafka clients need a running loop);
``create_app(settings, start=False)`` starts nothing, for tests of the HTTP edge.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from llmops_kit.auth import ApiKeyStore
from llmops_kit.bootstrap import TopicProvisioner, install_api_keys, load_api_keys
from llmops_kit.http.app import Component, Runtime, create_service_app
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import GatewayClient, gateway_client, warehouse_reader
from llmops_schemas.v2 import CallRecorded, DriftReported

from llmops_drift_detection import __version__
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.embeddings import PromptEmbedder
from llmops_drift_detection.entrypoints.http import WINDOWS, router
from llmops_drift_detection.judges.http import judges_router
from llmops_drift_detection.judges.monitors import MonitorStore
from llmops_drift_detection.judges.wiring import judge_runtime
from llmops_drift_detection.outcomes import Outcomes
from llmops_drift_detection.references import References, parse_period
from llmops_drift_detection.stream import REFERENCES_TOPIC, WINDOWS_TOPIC, DriftStream

__all__ = ["SERVICE", "TOPICS", "create_app"]

SERVICE = "drift-detection"
TOPICS = [CallRecorded.topic, DriftReported.topic, WINDOWS_TOPIC, REFERENCES_TOPIC, MonitorStore.topic]
log = logging.getLogger(__name__)


async def _always_ready() -> bool:
    return True


async def _kafka_runtime(app: FastAPI, settings: DriftDetectionSettings) -> Runtime:
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    producer = EventProducer(bootstrap, service=SERVICE, security=security)
    reader = warehouse_reader(settings)  # pinned datasets, and every window's scores and feedback
    outcomes = Outcomes(reader, lag_s=settings.grace_s, max_rows=settings.outcomes_max_rows,
                        timeout_s=settings.outcomes_timeout_s) if reader else None  # fmt: skip
    gateway, dataset_gateway = _gateway(settings), _dataset_gateway(settings)
    references = References(
        settings.reference, settings.min_samples, reader=reader, max_calls=settings.reference_max_calls,
        period=parse_period(settings.reference_start, settings.reference_end), outcomes=outcomes,
        max_embeddings=settings.reference_max_embeddings,
        embedder=_embedder(settings, dataset_gateway, settings.embedding_reference_timeout_s),
    )  # fmt: skip
    embedder = _embedder(settings, gateway, settings.embedding_timeout_s)
    stream = DriftStream(settings, out=producer, dead_letters=producer, references=references, embedder=embedder)
    components: list[Component] = []
    if settings.ensure_topics:  # faust ignores a source topic that does not exist yet: create them first
        components.append(TopicProvisioner(bootstrap, TOPICS, security=security))
    clients: list[Component] = [*([reader] if reader else []),
                                *(g.client for g in (gateway, dataset_gateway) if g is not None)]  # fmt: skip
    components += [producer, *clients, stream]
    judged, judge_checks = judge_runtime(app, settings, settings.judges, producer, source=settings.source)
    components += judged
    checks = {"kafka": producer.ping, "windows": stream.ready, **judge_checks,
              **install_api_keys(app, load_api_keys(settings))}  # fmt: skip
    setattr(app.state, WINDOWS, stream.open_windows)
    return Runtime(components=components, checks=checks, liveness=stream.recovery_watch.stuck)


def _gateway(settings: DriftDetectionSettings) -> GatewayClient | None:
    """The gateway for sampled embeddings: no retries (the fold batch waits), its requests bounded at once."""
    if settings.embedding_sample_rate == 0:
        return None
    gateway = gateway_client(
        settings, timeout_s=settings.embedding_timeout_s, attempts=1, max_in_flight=settings.embedding_max_in_flight
    )
    if gateway is None:
        log.warning(
            "no embeddings: DRIFT_DETECTION_EMBEDDING_SAMPLE_RATE needs LLMOPS_GATEWAY_URL and LLMOPS_SERVICE_KEY"
        )
    return gateway


def _dataset_gateway(settings: DriftDetectionSettings) -> GatewayClient | None:
    """The gateway for a dataset reference's embeddings (docs/adr/0058): once per scope, so a longer wait per
    request and a retry, the same bound on requests in flight; none when the windows embed nothing."""
    if settings.reference != "dataset" or settings.embedding_sample_rate == 0:
        return None
    return gateway_client(settings, timeout_s=settings.embedding_reference_timeout_s, attempts=2,
                          max_in_flight=settings.embedding_max_in_flight)  # fmt: skip


def _embedder(settings: DriftDetectionSettings, gateway: GatewayClient | None, timeout_s: float) -> PromptEmbedder:
    return PromptEmbedder(
        gateway, rate=settings.embedding_sample_rate, model=settings.embedding_model, timeout_s=timeout_s,
        backoff_s=settings.embedding_backoff_s, max_chars=settings.embedding_max_chars,
    )  # fmt: skip


def create_app(
    settings: DriftDetectionSettings | None = None, *, start: bool = True, api_keys: ApiKeyStore | None = None
) -> FastAPI:
    """The drift-detection app: the faust worker and probes from ``settings``; ``start=False`` starts nothing
    and takes ``api_keys`` as they are (tests of the HTTP edge)."""
    settings = settings or DriftDetectionSettings()

    async def build_runtime(app: FastAPI) -> Runtime:
        if not start:
            setattr(app.state, WINDOWS, lambda tenant, limit: [])
            return Runtime(checks={"windows": _always_ready, **install_api_keys(app, api_keys)})
        return await _kafka_runtime(app, settings)

    app = create_service_app(
        service=SERVICE,
        title="LLMOps drift detection",
        description="Folds recorded calls into streaming windows per tenant, app, model and prompt version and "
        "publishes a drift report (llmops.drift.reported.v2) for every closed window against its reference.",
        version=__version__,
        build_runtime=build_runtime,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(router)
    app.include_router(judges_router)
    return app
