"""``CompactedTopicMaterializer.caught_up_now``: read-your-writes of a compacted topic across replicas, on the
session's real broker (the audit chain's writer calls it before each batch)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from llmops_governance_audit.chain.heads import ChainHeads
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AuditChainHead

from tests.unit.warehouse.call_store_contract import new_tenant

pytestmark = pytest.mark.integration


async def test_it_answers_only_once_the_view_holds_what_the_topic_had(kafka_bootstrap: str) -> None:
    heads = ChainHeads()
    materializer = CompactedTopicMaterializer(bootstrap_servers=kafka_bootstrap, topic=heads.topic, view=heads)
    assert not await materializer.caught_up_now(0.1), "not started: nothing to say"
    producer = EventProducer(kafka_bootstrap, service="materializer-it")
    await producer.start()
    await materializer.start()
    try:
        assert await materializer.wait_ready(60)
        consumer = materializer._consumer  # paused below: a replica whose view lags the topic
        assert consumer is not None
        consumer.pause(*consumer.assignment())
        head = AuditChainHead(next_sequence=7, source_partition=0, source_offset=6, updated_at=datetime.now(UTC))
        tenant = new_tenant()
        await producer.publish(CloudEvent.wrap(head, source="/tests", tenant_id=tenant))  # acknowledged
        assert not await materializer.caught_up_now(1.0), "the view lags the topic"
        consumer.resume(*consumer.assignment())
        assert await materializer.caught_up_now(30)
        assert heads.get(tenant) == head, "no waiting for the view after caught_up_now said so"
    finally:
        await materializer.stop()
        await producer.stop()
