"""Production wiring of replays: the warehouse client, the topic readers, the manager and its materialiser."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.kafka.security import client_kwargs
from llmops_kit.platform_client import PlatformClient, WarehouseReader
from llmops_kit.settings import KafkaSecurity
from llmops_schemas.v1 import PartitionOffsets, ReplayCheckpointed
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.handlers import ScoringRules
from llmops_evaluation.replay.manager import ReplayLimits, ReplayManager
from llmops_evaluation.replay.sources import CallSource, TopicSource, WarehouseSource, end_offsets
from llmops_evaluation.replay.spec import RangeSpec
from llmops_evaluation.replay.store import ReplayStore
from llmops_evaluation.store import EvaluatorStore

__all__ = ["KafkaSources", "ReplayRuntime", "replay_runtime"]


class KafkaSources:
    """Replays read the warehouse through ``reader`` (when configured) and the calls topic with their own readers."""

    def __init__(self, bootstrap: str, security: KafkaSecurity | None, reader: WarehouseReader | None) -> None:
        self._bootstrap, self._security, self._reader = bootstrap, security, reader

    def open(self, tenant: str, state: ReplayCheckpointed) -> CallSource:
        if state.source == "topic":
            return TopicSource(self._bootstrap, tenant, state, security=self._security)
        if self._reader is None:
            raise RuntimeError("no warehouse is configured (LLMOPS_WAREHOUSE_URL, LLMOPS_SERVICE_KEY)")
        return WarehouseSource(self._reader, tenant, state)

    async def prepare(self, source: str, ranges: list[RangeSpec]) -> list[PartitionOffsets]:
        if source == "warehouse":
            if self._reader is None:
                detail = "replays from the warehouse need LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY"
                raise ProblemError(503, "Service Unavailable", detail, headers={"Retry-After": "30"})
            return []
        known = await self._partitions()
        unknown = [r.partition for r in ranges if r.partition not in known]
        if unknown:
            raise ProblemError(422, "Unprocessable Content", f"llmops.calls.recorded has no partition {unknown[0]}")
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, **client_kwargs(self._security))
        await consumer.start()
        try:
            ends = await end_offsets(consumer, [r.partition for r in ranges])
        finally:
            await consumer.stop()
        return [
            PartitionOffsets(
                partition=r.partition,
                start=r.start,
                end=max(r.start, min(ends[r.partition], r.end or ends[r.partition])),
            )
            for r in ranges
        ]

    async def _partitions(self) -> set[int]:
        """The partitions of the calls topic, from the broker's metadata."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **client_kwargs(self._security))
        await admin.start()
        try:
            (meta,) = await admin.describe_topics([CallRecorded.topic])
        finally:
            await admin.close()
        return {p["partition"] for p in meta["partitions"]}


@dataclass
class ReplayRuntime:
    """What the lifespan starts for replays, in order: the warehouse client, the materialiser, the manager."""

    client: PlatformClient | None
    materializer: CompactedTopicMaterializer
    manager: ReplayManager


def replay_runtime(
    settings: EvaluationSettings, evaluators: EvaluatorStore, publisher: EventPublisher, rules: ScoringRules
) -> ReplayRuntime:
    """The replays' components from the settings."""
    bootstrap, security = settings.kafka_bootstrap_servers, settings.kafka_security
    client = None
    if settings.warehouse_url and settings.service_key is not None:
        client = PlatformClient("warehouse", settings.warehouse_url, settings.service_key.get_secret_value())
    store = ReplayStore()
    materializer = CompactedTopicMaterializer(
        bootstrap_servers=bootstrap,
        topic=ReplayCheckpointed.topic,
        view=store,
        client_id="llmops-evaluation-replays",
        security=security,
    )
    limits = ReplayLimits(
        max_running=settings.replay_max_running,
        max_per_tenant=settings.replay_max_per_tenant,
        default_rate_per_s=settings.replay_rate_limit_per_s,
        max_rate_per_s=settings.replay_max_rate_limit_per_s,
        batch_size=settings.replay_batch_size,
        retry_after_s=settings.retry_after_s,
    )
    sources = KafkaSources(bootstrap, security, WarehouseReader(client) if client is not None else None)
    manager = ReplayManager(store, evaluators, publisher, sources, rules, limits)
    return ReplayRuntime(client, materializer, manager)
