"""Kafka, ingest and warehouse as separate processes: every call stored exactly once, even across a crash."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from llmops_cli.demo import demo_calls

from tests.e2e.conftest import E2EPlatform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOTAL = 10_000
BATCH = 500


def _batches(prefix: str) -> list[list[dict[str, object]]]:
    calls = list(demo_calls(TOTAL, seed=11, prefix=prefix))
    return [calls[i : i + BATCH] for i in range(0, TOTAL, BATCH)]


def _expected_ids(batches: list[list[dict[str, object]]]) -> set[str]:
    return {str(call["call_id"]) for batch in batches for call in batch}


def test_ten_thousand_calls_over_http_become_queryable_exactly_once(e2e_platform: E2EPlatform) -> None:
    e2e_platform.start_warehouse()
    e2e_platform.start("ingest")
    batches = _batches(e2e_platform.tenant)
    with httpx.Client(timeout=60) as client:
        for batch in batches:
            assert len(e2e_platform.send(client, batch)["accepted"]) == len(batch)
        assert e2e_platform.wait_for_total(client, TOTAL) == TOTAL
        ids = e2e_platform.all_call_ids(client)
    assert len(ids) == TOTAL
    assert set(ids) == _expected_ids(batches)
    # SIGTERM drains and exits cleanly (exit code 0), well before the SIGKILL fallback.
    assert e2e_platform.processes["ingest"].stop(timeout_s=20) == 0
    assert e2e_platform.processes["warehouse"].stop(timeout_s=20) == 0


def test_warehouse_killed_mid_stream_and_restarted_stores_each_call_once(e2e_platform: E2EPlatform) -> None:
    e2e_platform.start_warehouse()
    e2e_platform.start("ingest")
    batches = _batches(e2e_platform.tenant)
    sent = threading.Event()

    def send_all() -> None:
        with httpx.Client(timeout=60) as sender:
            for batch in batches:
                e2e_platform.send(sender, batch)
                time.sleep(0.05)  # a steady stream, so the kill lands in the middle of it
        sent.set()

    sender = threading.Thread(target=send_all)
    sender.start()
    with httpx.Client(timeout=60) as client:
        deadline = time.monotonic() + 120
        while e2e_platform.total_calls(client) < 2_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        stored_before_crash = e2e_platform.total_calls(client)
        e2e_platform.processes["warehouse"].kill()
        assert 0 < stored_before_crash < TOTAL, "the kill must land mid-stream"
        sender.join(timeout=300)
        assert sent.is_set()
        e2e_platform.start_warehouse()
        e2e_platform.send(client, batches[0])  # a client retry of an early batch changes nothing
        assert e2e_platform.wait_for_total(client, TOTAL) == TOTAL
        ids = e2e_platform.all_call_ids(client)
    assert len(ids) == TOTAL
    assert set(ids) == _expected_ids(batches)


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def _find_in_dlq(bootstrap: str, topic: str, value: bytes, timeout_s: float = 60) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"dlq-reader-{uuid.uuid4().hex}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.value == value:
                        return dict(record.headers)
        raise AssertionError(f"{value!r} never reached {topic}")
    finally:
        await consumer.stop()


def test_poison_message_lands_in_the_dlq_and_the_rest_flows(e2e_platform: E2EPlatform) -> None:
    e2e_platform.start_warehouse()
    e2e_platform.start("ingest")
    calls = list(demo_calls(1_000, seed=5, prefix=e2e_platform.tenant))
    poison = f'{{"specversion": "1.0", "poison": "{uuid.uuid4()}"}}'.encode()
    with httpx.Client(timeout=60) as client:
        e2e_platform.send(client, calls[:500])
        asyncio.run(_produce(e2e_platform.bootstrap, "llmops.calls.recorded", e2e_platform.tenant.encode(), poison))
        e2e_platform.send(client, calls[500:])
        assert e2e_platform.wait_for_total(client, 1_000) == 1_000
    headers = asyncio.run(_find_in_dlq(e2e_platform.bootstrap, "llmops.calls.recorded.dlq", poison))
    assert headers["dlq.source_topic"] == b"llmops.calls.recorded"
    assert headers["dlq.consumer_group"] == e2e_platform.group.encode()
    assert int(headers["dlq.source_offset"]) >= 0
    assert headers["dlq.error_type"] == b"EventValidationError"
    assert headers["dlq.error"], "the cause travels with the record"
