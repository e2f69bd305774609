"""A real Kafka broker (LocalKafkaBroker or $KAFKA_BOOTSTRAP_SERVERS) and the topic catalog on it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from llmops_kit.infra.kafka_broker import KafkaBrokerError, LocalKafkaBroker
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics

pytestmark = pytest.mark.integration


async def _topic_configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            assert resource["error_code"] == 0, resource
            out[resource["resource_name"]] = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
    return out


async def _describe(bootstrap: str, topics: list[str] | None = None) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(topics)
        return described
    finally:
        await admin.close()


async def test_broker_answers_metadata(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert len(cluster["brokers"]) >= 1
    assert cluster["controller_id"] >= 0


async def test_catalog_topics_and_dlqs_exist_with_their_configs(
    kafka_bootstrap: str, topic_catalog: TopicCatalog
) -> None:
    expected = topic_catalog.all_topic_names()
    described = {t["topic"]: t for t in await _describe(kafka_bootstrap, expected)}
    assert set(described) == set(expected)
    for spec in topic_catalog.topics:
        assert described[spec.name]["error_code"] == 0
        assert len(described[spec.name]["partitions"]) == spec.partitions, spec.name

    configs = await _topic_configs(kafka_bootstrap, expected)
    for spec in topic_catalog.topics:
        assert configs[spec.name]["cleanup.policy"] == spec.cleanup_policy, spec.name
        if spec.retention is not None:
            assert configs[spec.name]["retention.ms"] == str(spec.retention), spec.name
        if spec.dlq_name:
            assert configs[spec.dlq_name]["cleanup.policy"] == "delete"
            assert configs[spec.dlq_name]["retention.ms"] == topic_catalog.dlq_configs(spec)["retention.ms"]
    assert configs["llmops.prices"]["cleanup.policy"] == "compact"


async def test_ensure_topics_is_idempotent(kafka_bootstrap: str, topic_catalog: TopicCatalog) -> None:
    # The session fixture already ran ensure_topics for the whole catalog.
    assert await ensure_topics(kafka_bootstrap, topic_catalog) == []
    assert await ensure_topics(kafka_bootstrap, topic_catalog, ["llmops.calls.recorded"]) == []


def _scratch_catalog() -> TopicCatalog:
    """A catalog of never-seen-before topics, so creation can be observed on any broker."""
    domain = f"itest{uuid.uuid4().hex[:8]}"
    return TopicCatalog.model_validate(
        {
            "defaults": {"dlq_retention": "2d"},
            "topics": [
                {
                    "name": f"llmops.{domain}.happened",
                    "partitions": 4,
                    "retention": "1h",
                    "cleanup_policy": "delete",
                    "key": "tenant_id",
                    "dlq": True,
                    "producers": ["ingest"],
                    "description": "scratch event topic",
                },
                {
                    "name": f"llmops.{domain}.config",
                    "partitions": 2,
                    "cleanup_policy": "compact",
                    "key": "id",
                    "dlq": False,
                    "producers": ["ingest"],
                    "description": "scratch config topic",
                    "configs": {"min.cleanable.dirty.ratio": "0.2"},
                },
            ],
        }
    )


async def test_ensure_topics_creates_missing_topics_and_dlqs(kafka_bootstrap: str) -> None:
    catalog = _scratch_catalog()
    events, config = catalog.topics
    assert events.dlq_name
    created = await ensure_topics(kafka_bootstrap, catalog)
    assert created == [events.name, events.dlq_name, config.name]

    configs = await _topic_configs(kafka_bootstrap, created)
    assert configs[events.name]["cleanup.policy"] == "delete"
    assert configs[events.name]["retention.ms"] == str(3_600_000)
    assert configs[events.dlq_name]["cleanup.policy"] == "delete"
    assert configs[events.dlq_name]["retention.ms"] == str(2 * 86_400_000)
    assert configs[config.name]["cleanup.policy"] == "compact"
    assert configs[config.name]["min.cleanable.dirty.ratio"] == "0.2"
    partitions = {t["topic"]: len(t["partitions"]) for t in await _describe(kafka_bootstrap, created)}
    assert partitions == {events.name: 4, events.dlq_name: 1, config.name: 2}

    assert await ensure_topics(kafka_bootstrap, catalog) == []


async def test_ensure_topics_tolerates_concurrent_creators(kafka_bootstrap: str) -> None:
    catalog = _scratch_catalog()
    first, second = await asyncio.gather(
        ensure_topics(kafka_bootstrap, catalog), ensure_topics(kafka_bootstrap, catalog)
    )
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(catalog.all_topic_names())


async def test_produce_consume_round_trip(kafka_bootstrap: str) -> None:
    topic = "llmops.calls.recorded"
    run = uuid.uuid4().hex
    tenant = f"tenant-{run[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, json.dumps({"run": run, "n": n}).encode(), key=tenant.encode())
            for n in range(3)
        ]
    finally:
        await producer.stop()
    assert len({m.partition for m in sent}) == 1  # one key -> one partition -> ordered

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"test-{run}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < 3:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    # the session's topic also holds other tests' records, poison ones included: only this
                    # run's key is read
                    for record in records:
                        if record.key == tenant.encode():
                            body = json.loads(record.value)
                            assert body["run"] == run
                            received.append(body)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert [b["n"] for b in received] == [0, 1, 2]


async def test_unique_topic_fixture(kafka_bootstrap: str, unique_topic: str) -> None:
    (meta,) = await _describe(kafka_bootstrap, [unique_topic])
    assert meta["error_code"] == 0
    assert len(meta["partitions"]) == 3


# --- LocalKafkaBroker itself (starts extra brokers; needs Java, not the session broker) ----------

needs_local = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="KAFKA_BOOTSTRAP_SERVERS set: no local brokers"
)


@needs_local
@pytest.mark.slow
def test_local_broker_restart_keeps_topics(tmp_path: Path) -> None:
    catalog = _scratch_catalog()
    broker = LocalKafkaBroker(tmp_path / "kafka")
    with broker:
        pid = broker.pid
        assert broker.running and pid is not None
        assert asyncio.run(ensure_topics(broker.bootstrap_servers, catalog)) == catalog.all_topic_names()
    assert not broker.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert (tmp_path / "kafka" / "logs" / "meta.properties").is_file()

    with broker:  # same data dir, same ports: storage is reused, not reformatted
        assert broker.pid != pid
        assert asyncio.run(ensure_topics(broker.bootstrap_servers, catalog)) == []
    log = broker.log_path.read_text()
    assert log.count("Kafka Server started") == 2
    assert log.count("formatting") == 1


@needs_local
@pytest.mark.slow
def test_local_broker_start_failure_shows_log_tail(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = LocalKafkaBroker(tmp_path / "kafka", port=taken.getsockname()[1], startup_timeout=90)
        with pytest.raises(KafkaBrokerError) as info:
            broker.start()
    message = str(info.value)
    assert "exited with code" in message
    assert "Address already in use" in message
    assert not broker.running
