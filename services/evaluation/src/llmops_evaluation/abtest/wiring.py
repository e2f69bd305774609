"""Wiring of verdicts and verdict policies into the evaluation app (called by ``bootstrap``)."""

from __future__ import annotations

from fastapi import FastAPI
from llmops_kit.audit import Actor
from llmops_kit.http.app import Component
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import gateway_client, warehouse_reader

from llmops_evaluation.abtest.acting import ExperimentControl, GatewayExperiments, PolicyLoop
from llmops_evaluation.abtest.compare import Design
from llmops_evaluation.abtest.history import WarehouseHistory
from llmops_evaluation.abtest.policies import PolicyRegistry, PolicyStore
from llmops_evaluation.abtest.service import ExperimentHistory, VerdictService
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.verdict_http import POLICIES_KEY, VERDICTS_KEY

__all__ = ["POLICY_ACTOR", "install_verdicts", "policy_components", "service_clients"]

POLICY_ACTOR = Actor(key_id="evaluation-verdict-policy")
"""Who the audit trail names for a policy's moves (the gateway's own entry names the service key)."""


def _design(settings: EvaluationSettings) -> Design:
    return Design(
        alpha=settings.verdict_alpha,
        minimum_effect=settings.verdict_minimum_effect,
        min_samples=settings.verdict_min_samples,
        max_samples=settings.verdict_max_samples,
    )


def install_verdicts(
    app: FastAPI,
    settings: EvaluationSettings,
    publisher: EventPublisher,
    history: ExperimentHistory | None,
    policies: PolicyStore,
) -> tuple[VerdictService, PolicyRegistry]:
    """Put the verdict service and the policy registry on ``app.state`` for the routes."""
    verdicts = VerdictService(
        history, _design(settings), concurrency=settings.verdict_concurrency, retry_after_s=settings.retry_after_s
    )
    registry = PolicyRegistry(
        policies,
        publisher,
        source=settings.source,
        publish_timeout_s=settings.publish_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    setattr(app.state, VERDICTS_KEY, verdicts)
    setattr(app.state, POLICIES_KEY, registry)
    return verdicts, registry


def service_clients(settings: EvaluationSettings) -> tuple[WarehouseHistory | None, GatewayExperiments | None]:
    """The warehouse history and the gateway's experiment API, with the service key (None without one)."""
    options = {"timeout_s": settings.platform_timeout_s}
    reader, gateway = warehouse_reader(settings, **options), gateway_client(settings, **options)
    history = None
    if reader is not None:
        history = WarehouseHistory(
            reader,
            gateway_source=settings.gateway_source,
            max_calls=settings.verdict_max_calls,
            max_events=settings.verdict_max_events,
        )
    return history, GatewayExperiments(gateway.client) if gateway else None


def policy_components(
    settings: EvaluationSettings,
    history: WarehouseHistory | None,
    gateway: ExperimentControl | None,
    verdicts: VerdictService,
    registry: PolicyRegistry,
) -> list[Component]:
    """The clients to start and stop, and the policy loop when it can both read and move."""
    clients: list[Component] = [history.reader.client] if history else []
    if isinstance(gateway, GatewayExperiments):
        clients.append(gateway.client)
    if history is None or gateway is None:
        return clients
    loop = PolicyLoop(registry, verdicts, gateway, interval_s=settings.policy_interval_s, actor=POLICY_ACTOR)
    return [*clients, loop]
