"""bench_ingest's pure parts: the median of repeated phase A runs, and what each run's row says."""

from __future__ import annotations

import asyncio
import itertools
import json

import bench_ingest as bench
import httpx
import pytest
from bench_ingest import ThroughputResult
from benchkit import CpuWindow
from llmops_ingest.call_structs import decode_v2_body


def _run(end_to_end: float | None, accepted: int = 1000) -> ThroughputResult:
    return ThroughputResult(
        duration_s=60.0,
        concurrency=4,
        batch=1000,
        requests=accepted // 1000,
        accepted=accepted,
        failures={},
        send_window_s=60.0,
        accepted_per_s=accepted / 60.0,
        queryable=accepted,
        to_queryable_s=None if end_to_end is None else accepted / end_to_end,
        end_to_end_per_s=end_to_end,
        window_slope_per_s=0.0,
        drain_s=None,
        request_p50_s=0.01,
        request_p95_s=0.02,
        exhausted=False,
    )


def test_the_median_of_five_is_the_middle_end_to_end_rate_whatever_the_order() -> None:
    runs = [_run(rate) for rate in (14_000.0, 9_000.0, 16_000.0, 15_500.0, 12_000.0)]
    assert bench.median_run(runs).end_to_end_per_s == 14_000.0


def test_a_run_that_never_drained_ranks_lowest() -> None:
    runs = [_run(None), _run(15_000.0), _run(13_000.0)]
    assert bench.median_run(runs).end_to_end_per_s == 13_000.0


def test_each_run_gets_its_row_in_order() -> None:
    rows = bench.repeat_rows([_run(15_000.0, 2000), _run(None, 3000)])
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[0][5] == "2,000 / 2,000"
    assert rows[1][2] == bench.fmt(None)
    assert rows[0][3] == rows[0][4] == "-"  # no CPU measured: no split to show


def test_a_run_row_splits_its_cpu_by_process_and_warehouse_thread() -> None:
    run = _run(15_000.0, 100_000)
    run.cpu = CpuWindow(60.0, {"ingest": 3.0, "warehouse": 7.0, "kafka": 0.5, "benchmark client": 0.3})
    run.threads = {"Unknown": 2.8, "llmops-warehous": 2.4, "MergeMutate": 0.61, "ThreadPool": 0.3}
    row = bench.repeat_rows([run])[0]
    assert row[3] == "108 (30 / 70 / 5)"
    assert row[4] == "28.0 / 24.0 / 6.1"


@pytest.mark.parametrize(("warehouse_s", "verdict"), [(6.5, "met (100 us)"), (7.0, "NOT met (105 us)")])
def test_the_cpu_target_counts_ingest_the_warehouse_and_kafka_not_the_load_generator(
    warehouse_s: float, verdict: str
) -> None:
    run = _run(15_000.0, 100_000)
    run.cpu = CpuWindow(60.0, {"ingest": 3.0, "warehouse": warehouse_s, "kafka": 0.5, "benchmark client": 0.3})
    rows = dict(bench.throughput_rows(run))
    assert rows["target <= 100 us CPU per call (ingest, warehouse, kafka)"] == verdict


def test_a_run_without_cpu_figures_gets_no_cpu_verdict() -> None:
    rows = dict(bench.throughput_rows(_run(15_000.0, 100_000)))
    assert not any(key.startswith("target <= ") for key in rows)


@pytest.mark.parametrize("text", ["0", "-3"])
def test_repeat_must_be_positive(text: str) -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--repeat", text])


@pytest.mark.parametrize("shape", ["v2", "v1"])
def test_the_bodies_hold_unique_calls_of_the_chosen_shape(shape: str) -> None:
    bodies = bench.batch_bodies("t", batches=3, size=4, shape=shape)
    calls = [call for body in bodies for call in json.loads(body)["calls"]]
    assert len({call["call_id"] for call in calls}) == 12
    assert all(("choices" in call) == (shape == "v2") and ("output" in call) == (shape == "v1") for call in calls)
    # a v2 body is what ingest reads straight into its call structs (docs/adr/0063), a v1 body goes the general way
    assert all((decode_v2_body(body) is not None) == (shape == "v2") for body in bodies)


def counting_warehouse() -> httpx.MockTransport:
    """A warehouse whose stored count grows by one at every poll."""
    counts = itertools.count()
    return httpx.MockTransport(lambda _: httpx.Response(200, json={"items": [{"calls": next(counts)}]}))


async def test_the_poller_polls_at_once_when_its_interval_changes() -> None:
    async with httpx.AsyncClient(transport=counting_warehouse()) as client:
        poller = bench.Poller(client, "http://warehouse", bench.Tenant("t"), interval_s=3600.0)
        stop = asyncio.Event()
        polling = asyncio.create_task(poller.run(stop))
        while not poller.samples:
            await asyncio.sleep(0.001)
        poller.poll_every(0.01)
        reached = await poller.wait_for(3, timeout_s=30.0)  # hours away at the first interval
        stop.set()
        await polling
    assert reached is not None and poller.latest >= 3


def _poller_with(samples: list[tuple[float, int]]) -> bench.Poller:
    poller = bench.Poller(httpx.AsyncClient(), "http://warehouse", bench.Tenant("t"), interval_s=1.0)
    poller.samples.extend(samples)
    return poller


@pytest.mark.parametrize(
    ("samples", "near"),
    [
        ([(0.0, 0), (1.0, 1000), (2.0, 2000)], False),  # 8,000 to go at 1,000/s: 8 s away
        ([(0.0, 6000), (1.0, 7000), (2.0, 8000)], True),  # 2,000 to go: 2 s away
        ([(0.0, 0), (10.0, 0), (11.0, 0)], False),  # nothing stored lately: no rate to go by
        ([(0.0, 0), (4.0, 0), (5.0, 9000)], True),  # one insert stored 9,000 within the span: 1,000 to go
        ([(0.0, 0), (1.0, 10_000)], True),  # there
    ],
)
def test_the_drain_polls_close_in_near_the_end_at_the_recent_rate(samples: list[tuple[float, int]], near: bool) -> None:
    poller = _poller_with(samples)
    poller.close_in_on(10_000, near_s=3.0, interval_s=0.1)
    assert poller._near_end() is near


def test_the_drain_polls_close_in_when_one_insert_like_the_largest_yet_would_finish_it() -> None:
    poller = _poller_with([(0.0, 0)])
    poller.close_in_on(10_000, near_s=3.0, interval_s=0.1)
    poller.samples.extend([(float(t), 0) for t in range(1, 7)])  # inserts far apart: no rate within the span
    assert not poller._near_end()
    poller.samples.append((7.0, 6000))
    assert poller._near_end(), "4,000 to go, and the last insert stored 6,000 at once"


def test_the_drain_polls_go_by_the_rate_since_the_drain_began_when_the_last_span_saw_nothing() -> None:
    poller = _poller_with([(0.0, 0)])
    poller.close_in_on(10_000, near_s=30.0, interval_s=0.1)
    poller.samples.extend([(1.0, 2000), (2.0, 4000), *((float(t), 4000) for t in range(3, 10))])
    assert poller._near_end(), "6,000 to go at 4,000 in 9 s: under 30 s away, though nothing moved for 7 s"


async def test_the_poller_polls_closely_only_once_near_the_end() -> None:
    async with httpx.AsyncClient(transport=counting_warehouse()) as client:
        poller = bench.Poller(client, "http://warehouse", bench.Tenant("t"), interval_s=0.01)
        stop = asyncio.Event()
        polling = asyncio.create_task(poller.run(stop))
        poller.close_in_on(10**9, near_s=1e-6, interval_s=0.001)  # never near: keeps polling every 10 ms
        while len(poller.samples) < 3:
            await asyncio.sleep(0.001)
        assert poller.interval_s == 0.01
        poller.close_in_on(poller.latest + 5, near_s=3600.0, interval_s=0.001)
        reached = await poller.wait_for(poller.latest + 5, timeout_s=30.0)
        stop.set()
        await polling
    assert reached is not None and poller.interval_s == 0.001
