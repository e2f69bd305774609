"""The judge-drift part of the service's runtime: the monitors' store and its materialiser, the registry, the
evaluation client, the ownership of the monitors' partitions and the scheduler, as lifespan components and
readiness checks (docs/adr/0051, 0058)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from llmops_kit.http.app import Component
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.ownership import PartitionOwnership
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import evaluation_client
from llmops_kit.settings import ServiceSettings

from llmops_drift_detection.judges.http import MONITORS, SCHEDULER
from llmops_drift_detection.judges.monitors import MonitorRegistry, MonitorStore
from llmops_drift_detection.judges.owners import MonitorOwners
from llmops_drift_detection.judges.scheduler import JudgeScheduler
from llmops_drift_detection.judges.settings import JudgeSettings

__all__ = ["judge_runtime"]


def judge_runtime(
    app: FastAPI, settings: ServiceSettings, judges: JudgeSettings, publisher: EventPublisher, *, source: str
) -> tuple[list[Component], dict[str, Callable[[], Awaitable[bool]]]]:
    """The components to start (after the producer) and the readiness check of the monitors' store."""
    store = MonitorStore()
    materializer = CompactedTopicMaterializer(
        bootstrap_servers=settings.kafka_bootstrap_servers, topic=store.topic, view=store,
        client_id="drift-detection-judges", security=settings.kafka_security,
    )  # fmt: skip
    registry = MonitorRegistry(store, publisher, source=source, max_per_tenant=judges.max_monitors_per_tenant)
    evaluation = evaluation_client(settings, timeout_s=30.0, max_in_flight=judges.max_concurrent_checks * 2)
    ownership = None  # a replica that checks nothing stays out of the group, or its partitions' monitors would wait
    if judges.enabled:
        ownership = PartitionOwnership(
            settings.kafka_bootstrap_servers, topic=store.topic, group_id=judges.group,
            security=settings.kafka_security, client_id="drift-detection-judge-owner",
        )  # fmt: skip
    scheduler = JudgeScheduler(registry, evaluation, publisher, judges, source=source, owners=MonitorOwners(ownership))
    setattr(app.state, MONITORS, registry)
    setattr(app.state, SCHEDULER, scheduler)
    components: list[Any] = [materializer, *([evaluation] if evaluation is not None else []),
                             *([ownership] if ownership is not None else []), scheduler]  # fmt: skip
    checks: dict[str, Callable[[], Awaitable[bool]]] = {"judge_monitors": materializer.check}
    if ownership is not None:
        checks["judge_owner"] = ownership.check
    return components, checks
