"""drift-detection across kill -9 with a message in flight: nothing lost, nothing counted twice (faust issue 606).

The service runs as a child process (production's entry point through ``drift_child.py``). Calls of three
tenants (so several partitions) go in; one call of the first tenant never finishes folding. Once that call is in
flight, the calls before it folded (those of its own batch written, not acked) and some of them committed, the
child is killed with SIGKILL and started again under the same consumer group. The restarted worker recovers the
windows from their changelog, folds the calls from the committed offsets again (the slow one included, now
fast), and its open windows hold every call of every tenant exactly once (``GET /v1/drift/windows``). With
faust committing past the in-flight call (issue 606) the slow call would be missing; without the call-id
deduplication of the batch entries, the calls folded before the kill and again after it would count twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from llmops_kit.auth import hash_key
from llmops_kit.infra.ports import free_port
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.v2 import CallRecorded

from tests.integration.drift_detection.groups import start_group_at_the_end
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("drift_child.py")
PER_TENANT = 150
BATCH = 20
"""Calls per fold batch: small, so batches before the slow call's are folded and committed before the kill."""


def _key(tenant: str) -> str:
    return f"llmops_it_drift_{tenant}".ljust(48, "0")[:48]


@contextmanager
def drift_service(bootstrap: str, group: str, tmp_path: Path, tenants: list[str], slow: str = "") -> Iterator[Any]:
    keys = [{"id": f"k-{t}", "tenant_id": t, "role": "analyst", "sha256": hash_key(_key(t))} for t in tenants]
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(yaml.safe_dump({"keys": keys}))
    port = free_port()
    env = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "LLMOPS_API_KEYS_FILE": str(keys_file),
        "DRIFT_DETECTION_PORT": str(port), "DRIFT_DETECTION_APP_ID": group, "DRIFT_DETECTION_WINDOW_S": "86400",
        "DRIFT_SLOW_CALL": slow, "DRIFT_SLOW_MARKER": str(tmp_path / "slow-in-flight"), "PYTHONPATH": str(REPO),
        "LOG_LEVEL": "WARNING", "DRIFT_DETECTION_FOLD_BATCH_MAX": str(BATCH),
    }  # fmt: skip
    child = subprocess.Popen([sys.executable, str(CHILD)], env=env, cwd=REPO)
    try:
        yield child, f"http://127.0.0.1:{port}"
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait(30)


async def _held(url: str, tenant: str) -> int:
    """Calls the tenant's open windows hold now (0 while the service is not answering)."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"{url}/v1/drift/windows", headers={"Authorization": f"Bearer {_key(tenant)}"})
    except httpx.HTTPError:
        return 0
    return sum(w["calls"] for w in answer.json()) if answer.status_code == 200 else 0


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if tp.topic == CallRecorded.topic}


async def test_a_kill_with_a_call_in_flight_loses_nothing_and_counts_nothing_twice(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    tenants, group = _tenants_on_distinct_partitions(run, 3), f"drift-detection-it-{run}"
    partitions = [TopicPartition(CallRecorded.topic, _partition(t)) for t in tenants]
    now = datetime.now(UTC)
    calls = [call(t, call_id=f"{t}-{i}", started_at=now) for t in tenants for i in range(PER_TENANT)]
    slow = f"slow-{run}"
    calls.insert(PER_TENANT // 2, call(tenants[0], call_id=slow, started_at=now))
    # The group starts where these calls will land: the session's earlier calls are not this test's to fold.
    ends_before = await start_group_at_the_end(kafka_bootstrap, group)
    producer = EventProducer(kafka_bootstrap, service="drift-it")
    await producer.start()
    try:
        await producer.publish_many(calls)
    finally:
        await producer.stop()
    ends = await _end_offsets(kafka_bootstrap, CallRecorded.topic)
    slow_offset = ends_before.get(partitions[0], 0) + PER_TENANT // 2
    marker = tmp_path / "slow-in-flight"

    with drift_service(kafka_bootstrap, group, tmp_path, tenants, slow=slow) as (child, url):
        await wait_until(lambda: _exists(marker), "the slow call in flight", timeout_s=180)

        async def calls_before_it_folded() -> bool:
            committed = (await _committed(kafka_bootstrap, group)).get(partitions[0], -1)
            return await _held(url, tenants[0]) >= PER_TENANT // 2 and committed > slow_offset - PER_TENANT // 2

        # faust's one actor folds every partition's calls in turn: the slow call holds them all. Killed once the
        # calls before it are folded and faust committed some of them: it may commit up to the slow call's batch,
        # never past it (the calls of that batch before the slow one are written, not acked).
        await wait_until(calls_before_it_folded, "the calls before the slow one folded", timeout_s=180)
        in_flight = (await _committed(kafka_bootstrap, group)).get(partitions[0], -1)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert in_flight <= slow_offset, "faust committed past the call in flight (faust-streaming issue 606)"

    with drift_service(kafka_bootstrap, group, tmp_path, tenants) as (_, url):

        async def everything_folded() -> bool:
            committed = await _committed(kafka_bootstrap, group)
            return all(committed.get(tp, -1) >= end for tp, end in ends.items()) and await _held(url, tenants[0]) > 0

        await wait_until(everything_folded, "every call folded after the restart", timeout_s=240)
        held = {t: await _held(url, t) for t in tenants}

    assert held == {tenants[0]: PER_TENANT + 1, tenants[1]: PER_TENANT, tenants[2]: PER_TENANT}


def _partition(tenant: str) -> int:
    """The partition of ``tenant``'s calls (the producer's default partitioner, the catalog's partitions)."""
    return (murmur2(tenant.encode()) & 0x7FFFFFFF) % TopicCatalog.load().get(CallRecorded.topic).partitions


def _tenants_on_distinct_partitions(run: str, count: int) -> list[str]:
    """``count`` tenants whose calls land on different partitions (a later tenant sharing the slow tenant's
    partition would queue behind the call in flight)."""
    chosen: dict[int, str] = {}
    for i in range(1000):
        chosen.setdefault(_partition(f"t-{run}-{i}"), f"t-{run}-{i}")
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError("no tenants on distinct partitions")


async def _exists(path: Path) -> bool:
    return path.exists()
