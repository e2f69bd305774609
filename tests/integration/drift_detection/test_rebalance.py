"""Two drift workers in one group: a second joins mid-stream, and every call is folded, none counted twice.

The calls topic is read in chunks inside faust's consumer (docs/adr/0057): a rebalance while a chunk folds must
neither lose the calls fetched and not yet folded nor fold a call into two entries of a window. The first
worker folds half the calls of tenants on distinct partitions; the second joins (the group rebalances and
the partitions it takes are recovered from the windows changelog); the other half goes in. Once every offset
is committed, each tenant's window holds all its calls exactly once on the worker that owns its partition now.
The worker that gave a partition away may keep its copy of that partition's windows as they were (faust's
memory store keeps a revoked partition's keys; it no longer folds into them): never more calls than sent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.v2 import CallRecorded

from tests.integration.drift_detection.groups import start_group_at_the_end
from tests.integration.drift_detection.test_kill9_lossless import (
    _committed,
    _held,
    _tenants_on_distinct_partitions,
    drift_service,
)
from tests.integration.warehouse.test_warehouse_consumer import _end_offsets, wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PER_TENANT = 120
TENANTS = 4


async def _publish(bootstrap: str, calls: list[object]) -> None:
    producer = EventProducer(bootstrap, service="drift-it")
    await producer.start()
    try:
        await producer.publish_many(calls)  # type: ignore[arg-type]
    finally:
        await producer.stop()


async def test_a_worker_joining_mid_stream_loses_nothing_and_counts_nothing_twice(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    tenants, group = _tenants_on_distinct_partitions(run, TENANTS), f"drift-detection-it-{run}"
    now = datetime.now(UTC)
    calls = {t: [call(t, call_id=f"{t}-{i}", started_at=now) for i in range(PER_TENANT)] for t in tenants}
    half = PER_TENANT // 2
    await start_group_at_the_end(kafka_bootstrap, group)
    await _publish(kafka_bootstrap, [c for t in tenants for c in calls[t][:half]])

    with drift_service(kafka_bootstrap, group, tmp_path, tenants) as (_, first):

        async def first_half_folded() -> bool:
            return all([await _held(first, t) == half for t in tenants])

        await wait_until(first_half_folded, "the first worker folded the first half", timeout_s=180)
        with drift_service(kafka_bootstrap, group, tmp_path, tenants) as (_, second):

            async def second_took_partitions() -> bool:
                return sum([await _held(second, t) for t in tenants]) > 0  # recovered from the changelog

            await wait_until(second_took_partitions, "the second worker owning some partitions", timeout_s=240)
            await _publish(kafka_bootstrap, [c for t in tenants for c in calls[t][half:]])
            ends = await _end_offsets(kafka_bootstrap, CallRecorded.topic)

            async def everything_committed() -> bool:
                committed = await _committed(kafka_bootstrap, group)
                return all(committed.get(tp, -1) >= end for tp, end in ends.items())

            await wait_until(everything_committed, "every call folded and committed", timeout_s=240)
            held = {t: (await _held(first, t), await _held(second, t)) for t in tenants}

    assert all(max(pair) == PER_TENANT for pair in held.values()), held  # nothing lost, no call in two entries
    assert all(max(pair) <= PER_TENANT and min(pair) <= half for pair in held.values()), held
    assert any(pair[1] == PER_TENANT for pair in held.values()), held  # the rebalance moved partitions
