"""Wiring of datasets and offline runs: their registries on the app, their state views, their platform clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from llmops_kit.erasure import ErasureLimits, ErasureWorker, ProducerTombstones
from llmops_kit.erasure_consumer import erasure_loop
from llmops_kit.kafka.consumer import ConsumerLoop
from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import GatewayClient, WarehouseReader, gateway_client, warehouse_reader
from llmops_kit.settings import KafkaSecurity

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.datasets_http import DATASETS_KEY, WAREHOUSE_KEY
from llmops_evaluation.entrypoints.runs_http import RUNS_KEY
from llmops_evaluation.registry import EvaluatorRegistry
from llmops_evaluation.runs.datasets import DatasetLimits, DatasetRegistry
from llmops_evaluation.runs.erasure import DatasetErasure
from llmops_evaluation.runs.executor import RunExecutor, RunLimits
from llmops_evaluation.runs.service import RunRegistry
from llmops_evaluation.runs.stores import DatasetStore, RunStore

__all__ = ["erasure_consumer", "install_runs", "run_clients", "state_materializer"]


def install_runs(
    app: FastAPI,
    settings: EvaluationSettings,
    evaluators: EvaluatorRegistry,
    publisher: EventPublisher,
    stores: tuple[DatasetStore, RunStore],
    clients: tuple[GatewayClient | None, WarehouseReader | None],
    stores_ready: Callable[[], Awaitable[object]] | None = None,
) -> RunExecutor:
    """Put the dataset and run registries on ``app``; the executor that runs them (a lifespan component)."""
    dataset_store, run_store = stores
    gateway, warehouse = clients
    limits = DatasetLimits(
        settings.max_dataset_examples,
        settings.publish_timeout_s,
        settings.retry_after_s,
        max_versions=settings.max_dataset_versions,
        max_datasets=settings.max_datasets_per_tenant,
    )
    datasets = DatasetRegistry(dataset_store, publisher, source=settings.source, limits=limits)
    executor = RunExecutor(
        dataset_store,
        run_store,
        publisher,
        gateway,
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
    runs = RunRegistry(run_store, datasets, evaluators, executor, publisher, warehouse, source=settings.source)
    state = {DATASETS_KEY: datasets, RUNS_KEY: runs, WAREHOUSE_KEY: warehouse}
    for key, value in {**state, "max_dataset_bytes": settings.max_dataset_bytes}.items():
        setattr(app.state, key, value)
    return executor


def state_materializer(bootstrap: str, store: CompactedStore, security: KafkaSecurity) -> CompactedTopicMaterializer:
    """The view of one of the runs' compacted topics (datasets, runs), read whole by every replica."""
    name = store.topic.rsplit(".", 1)[-1]
    return CompactedTopicMaterializer(
        bootstrap_servers=bootstrap, topic=store.topic, view=store, client_id=f"llmops-evaluation-{name}",
        security=security,
    )  # fmt: skip


def run_clients(settings: EvaluationSettings) -> tuple[GatewayClient | None, WarehouseReader | None]:
    """The gateway runs send examples through (only on a run worker) and the warehouse they read, with the
    service key; None for what is not configured."""
    gateway = gateway_client(settings, max_in_flight=settings.run_concurrency * settings.max_active_runs)
    return (gateway if settings.run_worker else None), warehouse_reader(settings)


def erasure_consumer(
    settings: EvaluationSettings, producer: EventProducer, datasets: DatasetStore, warehouse: WarehouseReader | None
) -> ConsumerLoop[Any]:
    """The consumer that erases data subjects from the dataset examples (docs/adr/0044)."""
    worker = ErasureWorker(
        service="evaluation", source=settings.source, state=DatasetErasure(datasets),
        tombstones=ProducerTombstones(producer), publisher=producer, calls=warehouse,
        limits=ErasureLimits(max_calls=settings.erasure_max_calls),
    )  # fmt: skip
    return erasure_loop(
        worker, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=settings.erasure_group,
        producer=producer, service="evaluation", security=settings.kafka_security,
    )  # fmt: skip
