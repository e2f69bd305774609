"""The event producer against a real broker: CloudEvents keyed by tenant with their type header; ping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError
from llmops_kit.infra.ports import free_port
from llmops_kit.kafka.producer import MAX_REQUEST_BYTES, EventProducer
from llmops_schemas.envelope import CloudEvent, EventPayload
from prometheus_client import REGISTRY

from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration

WAIT_S = 20.0


class Pinged(EventPayload):
    """A payload for these tests only."""

    event_type: ClassVar[str] = "llmops.kittest.pinged.v1"
    topic: ClassVar[str] = "llmops.kittest.pinged"

    n: int


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def make(partitions: int = 3) -> str:
        name = f"test.kit.producer.{uuid.uuid4().hex[:12]}"
        await admin.create_topics([NewTopic(name, partitions, 1)])
        created.append(name)
        deadline = time.monotonic() + WAIT_S
        while True:
            (meta,) = await admin.describe_topics([name])
            if meta["error_code"] == 0 and meta["partitions"] and all(p["leader"] >= 0 for p in meta["partitions"]):
                return name
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} has no leaders after {WAIT_S}s")
            await asyncio.sleep(0.1)

    try:
        yield make
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics(created)
        await admin.close()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    p = EventProducer(kafka_bootstrap, service=f"kit-producer-{uuid.uuid4().hex[:8]}")
    await asyncio.wait_for(p.start(), WAIT_S)
    try:
        yield p
    finally:
        await p.stop()


def events(tenants: list[str]) -> list[CloudEvent[Pinged]]:
    return [CloudEvent.wrap(Pinged(n=i), source="/tests/kit", tenant_id=t) for i, t in enumerate(tenants)]


async def test_publish_many_lands_keyed_by_tenant_with_the_type_header(
    kafka_bootstrap: str, producer: EventProducer, new_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await new_topic(partitions=3)
    tenants = ["acme", "globex", "initech", "acme", "globex", "acme", "umbrella", "initech"]
    sent = events(tenants)

    await asyncio.wait_for(producer.publish_many(sent, topic=topic), WAIT_S)

    records = await read_topic(kafka_bootstrap, topic, expect=len(sent))
    by_id = {json.loads(r.value)["id"]: r for r in records}
    assert set(by_id) == {e.id for e in sent}
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for event in sent:
        record = by_id[event.id]
        assert record.key == event.tenant_id.encode()
        assert dict(record.headers)["ce_type"] == b"llmops.kittest.pinged.v1"
        body = json.loads(record.value)
        assert body["type"] == "llmops.kittest.pinged.v1"
        assert body["tenantid"] == event.tenant_id
        assert body["data"] == {"n": event.data.n}
        partitions_of[record.key].add(record.partition)
    # Keyed by tenant: each tenant's events share one partition, so they stay ordered.
    assert all(len(p) == 1 for p in partitions_of.values()), dict(partitions_of)
    # Per tenant, the order published is the order stored.
    for tenant in set(tenants):
        stored = sorted((r for r in records if r.key == tenant.encode()), key=lambda r: r.offset)
        assert [json.loads(r.value)["data"]["n"] for r in stored] == [e.data.n for e in sent if e.tenant_id == tenant]
    counted = REGISTRY.get_sample_value("llmops_events_out_total", {"service": producer._service, "topic": topic})
    assert counted == len(sent)


@pytest.mark.parametrize("per_key", [1, 40], ids=["few-per-partition-via-send", "many-per-partition-packed"])
async def test_send_many_partitions_like_aiokafkas_own_send(
    kafka_bootstrap: str, producer: EventProducer, new_topic: Callable[..., Awaitable[str]], per_key: int
) -> None:
    """Both ways of queuing (aiokafka's ``send`` and packed batches) put a key where the Java client would."""
    mine, theirs = await new_topic(partitions=5), await new_topic(partitions=5)
    keys = [f"tenant-{i}".encode() for i in range(40)]

    await asyncio.wait_for(producer.send_many([(mine, key, b"v", ()) for key in keys for _ in range(per_key)]), WAIT_S)
    reference = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await reference.start()
    try:
        for key in keys:
            await reference.send_and_wait(theirs, b"v", key=key)
    finally:
        await reference.stop()

    placed: dict[bytes, set[int]] = defaultdict(set)
    for record in await read_topic(kafka_bootstrap, mine, expect=len(keys) * per_key):
        placed[record.key].add(record.partition)
    expected = {r.key: {r.partition} for r in await read_topic(kafka_bootstrap, theirs, expect=len(keys))}
    assert placed == expected
    assert len({p for ps in placed.values() for p in ps}) > 1  # the keys really spread


async def test_send_many_keeps_order_across_several_full_batches(
    kafka_bootstrap: str, producer: EventProducer, new_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await new_topic(partitions=2)
    filler = b"x" * 4000
    # ~1.6 MB per key: several of the producer's 512 KiB batches, interleaved between two keys.
    records = [(topic, key, b"%d:" % n + filler, (("n", str(n).encode()),)) for n in range(400) for key in (b"a", b"b")]

    await asyncio.wait_for(producer.send_many(records), WAIT_S)

    stored = await read_topic(kafka_bootstrap, topic, expect=len(records))
    for key in (b"a", b"b"):
        mine = sorted((r for r in stored if r.key == key), key=lambda r: r.offset)
        assert len({r.partition for r in mine}) == 1
        assert [int(r.value.split(b":")[0]) for r in mine] == list(range(400))
        assert [dict(r.headers)["n"] for r in mine] == [str(n).encode() for n in range(400)]


async def test_a_record_too_large_fails_the_call_before_anything_is_published(
    kafka_bootstrap: str, producer: EventProducer, new_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await new_topic(partitions=1)
    fine = [(topic, b"k", b"small", ()) for _ in range(50)]
    # Headers count towards the limit too.
    too_large = (topic, b"k", b"x" * (MAX_REQUEST_BYTES - 10), (("h", b"y" * 20),))
    with pytest.raises(MessageSizeTooLargeError):
        await producer.send_many([*fine, too_large, *fine])

    await asyncio.wait_for(producer.send_many([(topic, b"k", b"marker", ())]), WAIT_S)
    (only,) = await read_topic(kafka_bootstrap, topic, expect=1)
    assert only.value == b"marker"


async def test_publish_defaults_to_the_payloads_topic(
    kafka_bootstrap: str,
    producer: EventProducer,
    new_topic: Callable[..., Awaitable[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = await new_topic(partitions=1)
    monkeypatch.setattr(Pinged, "topic", topic)
    (event,) = events(["acme"])

    await asyncio.wait_for(producer.publish(event), WAIT_S)

    (record,) = await read_topic(kafka_bootstrap, topic, expect=1)
    assert json.loads(record.value)["id"] == event.id
    assert record.key == b"acme"


async def test_ping_is_true_against_the_broker(producer: EventProducer) -> None:
    assert await asyncio.wait_for(producer.ping(), 5) is True


async def test_ping_is_false_quickly_against_a_closed_port() -> None:
    closed = EventProducer(f"127.0.0.1:{free_port()}", service="kit-producer-closed")
    started = time.monotonic()
    assert await asyncio.wait_for(closed.ping(within_s=0.5), 5) is False
    assert time.monotonic() - started < 2
    await closed.stop()


async def test_start_against_a_closed_port_fails_rather_than_hangs() -> None:
    closed = EventProducer(f"127.0.0.1:{free_port()}", service="kit-producer-closed")
    with pytest.raises(Exception, match=r"(?i)connect|bootstrap"):
        await asyncio.wait_for(closed.start(), 10)
    assert await asyncio.wait_for(closed.ping(within_s=0.5), 5) is False
    await closed.stop()
