"""A tenant's `pii_redaction` policy record on llmops.policies changes what ingest does with its calls, without a
restart, and its tombstone changes it back (real broker; docs/pii.md)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.registry import record_key
from llmops_schemas.v1.governance import PiiRedactionSettings, PolicyPublished

from tests.integration.ingest.test_ingest_kafka import RunningIngest, a_call, running_ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CARD = "my card is 4111 1111 1111 1111"


def policy_record(tenant: str) -> tuple[bytes, bytes]:
    settings = PiiRedactionSettings(
        entities=["credit_card"], action="mask", options={"actions": {"credit_card": "block"}}
    )
    policy = PolicyPublished(
        policy_id="no-cards",
        name="no-cards",
        kind="pii_redaction",
        version=1,
        settings=settings,
        updated_by="it-admin",
        updated_at=datetime.now(UTC),
    )
    event = CloudEvent.wrap(policy, source="/services/governance-audit", tenant_id=tenant)
    return record_key(event), event.to_json_bytes()


async def publish(bootstrap: str, key: bytes, value: bytes | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(PolicyPublished.topic, key=key, value=value)
    finally:
        await producer.stop()


async def outcome(ingest: RunningIngest, marker: str) -> dict[str, Any]:
    call = a_call(f"pii-{uuid.uuid4().hex}", marker, messages=[{"role": "user", "content": CARD}])
    response = await ingest.client.post(
        "/v1/calls", json={"calls": [call]}, headers={"Authorization": f"Bearer {ingest.key}"}
    )
    assert response.status_code in (202, 422), response.text
    body: dict[str, Any] = response.json()
    return body


async def until(condition: Any, ingest: RunningIngest, marker: str, timeout_s: float = 30.0) -> float:
    """Seconds until a call's outcome meets ``condition`` (sending one call per half second)."""
    started = time.monotonic()
    async with asyncio.timeout(timeout_s):
        while not condition(await outcome(ingest, marker)):
            await asyncio.sleep(0.5)
    return time.monotonic() - started


def blocked(body: dict[str, Any]) -> bool:
    return bool(body["rejected"]) and body["rejected"][0]["errors"][0]["type"] == "pii_blocked"


async def test_a_policy_record_blocks_cards_and_its_tombstone_lifts_it(kafka_bootstrap: str, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    async with running_ingest(kafka_bootstrap, tmp_path) as ingest:
        assert (await outcome(ingest, marker))["accepted"]  # the default policy redacts the card
        key, value = policy_record(ingest.tenant)
        await publish(kafka_bootstrap, key, value)
        took = await until(blocked, ingest, marker)
        assert took < 10.0
        rejection = (await outcome(ingest, marker))["rejected"][0]["errors"][0]
        assert rejection["msg"] == "the tenant's PII policy blocks records containing: credit_card"
        await publish(kafka_bootstrap, key, None)
        await until(lambda body: bool(body["accepted"]), ingest, marker)
