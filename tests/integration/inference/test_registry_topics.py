"""The registry's compacted topics on a real broker: a fresh materialiser rebuilds exactly the writer's state.

Writes go through the real registries and the kit's ``EventProducer``; state is read back by materialisers
that start from offset 0 without a consumer group, as every gateway replica does. Each test uses its own
tenant, since the session's broker holds other tests' records too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer
from llmops_inference.experiments.model import ExperimentChange, ExperimentDraft
from llmops_inference.experiments.publisher import ExperimentPublisher
from llmops_inference.experiments.service import ExperimentRegistry
from llmops_inference.experiments.store import ExperimentMaterializer, ExperimentStore
from llmops_inference.prompts.model import PromptVersionDraft
from llmops_inference.prompts.publisher import PromptPublisher
from llmops_inference.prompts.service import PromptRegistry
from llmops_inference.prompts.store import PromptMaterializer, PromptStore
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.v1 import ExperimentConfigured, PromptVersionPublished

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ACTOR = Actor(key_id="it-admin")
READY_S = 30.0


@dataclass
class Gateway:
    """What one gateway replica holds: stores kept current by materialisers, and the registries."""

    prompts: PromptStore
    experiments: ExperimentStore
    materializers: list[CompactedTopicMaterializer]
    prompt_registry: PromptRegistry
    experiment_registry: ExperimentRegistry


async def start_replica(bootstrap: str, producer: EventProducer) -> Gateway:
    prompts, experiments = PromptStore(), ExperimentStore()
    materializers = [PromptMaterializer(bootstrap, prompts), ExperimentMaterializer(bootstrap, experiments)]
    for materializer in materializers:
        await materializer.start()
    for materializer in materializers:
        assert await materializer.wait_ready(READY_S), f"{materializer.topic} did not catch up"
        assert materializer.ready
    audit = AuditTrail(producer, source="/services/inference")
    return Gateway(
        prompts,
        experiments,
        materializers,
        PromptRegistry(prompts, PromptPublisher(audit)),
        ExperimentRegistry(experiments, ExperimentPublisher(audit), prompts=prompts),
    )


async def stop_replica(replica: Gateway) -> None:
    for materializer in replica.materializers:
        await materializer.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap, service="inference-it")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def tenant() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


async def eventually(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def version(text: str, **fields: object) -> PromptVersionDraft:
    return PromptVersionDraft.model_validate(
        {
            "template": [{"role": "system", "content": text}, {"role": "user", "content": "{{ question }}"}],
            "variables": [{"name": "question"}],
            **fields,
        }
    )


async def write_history(replica: Gateway, tenant: str) -> None:
    prompts, experiments = replica.prompt_registry, replica.experiment_registry
    for text in ("Be brief.", "Be brief and kind.", "Be kind."):
        await prompts.create_version(tenant, "answer", version(text, labels=["staging"]), ACTOR)
    await prompts.move_label(tenant, "answer", "production", 1, ACTOR)
    await prompts.move_label(tenant, "answer", "production", 3, ACTOR)
    await prompts.rollback(tenant, "answer", "production", ACTOR)
    await prompts.create_version(tenant, "summary", version("Summarise.", model="small"), ACTOR)
    canary = ExperimentDraft.model_validate(
        {
            "experiment_id": "canary-answer-v3",
            "name": "answer v3 canary",
            "app": "support-bot",
            "kind": "canary",
            "control": "v2",
            "variants": [
                {"name": "v2", "weight": 0.95, "prompt": {"name": "answer", "version": 2}},
                {"name": "v3", "weight": 0.05, "prompt": {"name": "answer", "version": 3}},
            ],
        }
    )
    await experiments.create(tenant, canary, ACTOR)
    await experiments.change(tenant, "canary-answer-v3", ExperimentChange(canary_weight=0.2), ACTOR)
    ab = canary.model_copy(update={"experiment_id": "ab-summary", "kind": "ab", "control": "a"})
    ab = ExperimentDraft.model_validate(
        {
            **ab.model_dump(),
            "variants": [{"name": "a", "weight": 0.5, "model": "small"}, {"name": "b", "weight": 0.5, "model": "big"}],
        }
    )
    await experiments.create(tenant, ab, ACTOR)
    await experiments.stop(tenant, "ab-summary", ACTOR)


async def test_a_fresh_materialiser_rebuilds_identical_state(
    kafka_bootstrap: str, producer: EventProducer, tenant: str
) -> None:
    writer = await start_replica(kafka_bootstrap, producer)
    try:
        await write_history(writer, tenant)
        reader = await start_replica(kafka_bootstrap, producer)
        try:
            assert reader.prompts.snapshot(tenant) == writer.prompts.snapshot(tenant)
            assert reader.experiments.snapshot(tenant) == writer.experiments.snapshot(tenant)
            assert reader.prompts.label(tenant, "answer", "production").version == 1  # type: ignore[union-attr]
            assert reader.prompts.label(tenant, "answer", "staging").version == 3  # type: ignore[union-attr]
            canary = reader.experiments.get(tenant, "canary-answer-v3")
            assert canary is not None and (canary.version, canary.variants[1].weight) == (2, 0.2)
            stopped = reader.experiments.get(tenant, "ab-summary")
            assert stopped is not None and stopped.status == "completed"
            # The writer's store, fed back its own records by its materialiser, has not moved either.
            await eventually(lambda: all(m.applied > 0 for m in writer.materializers))
            assert writer.prompts.conflicts == 0
        finally:
            await stop_replica(reader)
    finally:
        await stop_replica(writer)


async def test_a_running_materialiser_follows_changes_and_tombstones(
    kafka_bootstrap: str, producer: EventProducer, tenant: str
) -> None:
    writer = await start_replica(kafka_bootstrap, producer)
    reader = await start_replica(kafka_bootstrap, producer)
    try:
        await writer.prompt_registry.create_version(tenant, "answer", version("one"), ACTOR)
        await writer.prompt_registry.create_version(tenant, "answer", version("two"), ACTOR)
        await writer.prompt_registry.move_label(tenant, "answer", "production", 2, ACTOR)
        await eventually(lambda: reader.prompts.snapshot(tenant) == writer.prompts.snapshot(tenant))

        raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await raw.start()
        try:
            topic = PromptVersionPublished.topic
            await raw.send_and_wait(topic, key=f"{tenant}:answer:label:production".encode(), value=None)
            await raw.send_and_wait(topic, key=f"{tenant}:answer:1".encode(), value=None)
            await raw.send_and_wait(ExperimentConfigured.topic, key=f"{tenant}:nothing".encode(), value=b"not json")
        finally:
            await raw.stop()
        await eventually(lambda: reader.prompts.version(tenant, "answer", 1) is None)
        fallback = reader.prompts.label(tenant, "answer", "production")
        assert fallback is not None and (fallback.version, fallback.source) == (2, "version"), (
            "without its label record, a label is where the versions' own labels put it"
        )
        assert [v.version for v in reader.prompts.versions(tenant, "answer")] == [2]
        assert all(m.ready for m in reader.materializers), "a bad record does not stop a materialiser"
    finally:
        await stop_replica(reader)
        await stop_replica(writer)
