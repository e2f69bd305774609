"""The warehouse's whole consumer path on a backlog, in-process: CPU per call of every thread, by thread.

``profile_stages.py`` times the warehouse's stages one by one; this script runs the warehouse as it runs in
production (``build_runtime``: the consumer loop, the erasure screen, the retention stamp, the store on its
writer thread, chDB's merges) over a backlog of ``--calls`` demo calls that ingest's own code published first,
and reports the process's CPU (utime+stime of every thread, ClickHouse's included) per call stored, split by
the kernel's thread names as ``bench_ingest.py`` does, and the garbage collector's share (the collector is tuned
as ``llmops-warehouse`` tunes it). ``--rounds`` repeats it on fresh brokers and databases; ``--env KEY=VALUE``
sets warehouse settings for the run (A/B runs of a setting in one session); ``--profile`` prints cProfile's top
functions of the event loop and of the other threads, ``--sample`` a statistical profile of the event loop.
Merges that ClickHouse starts after the last call is stored fall outside the window: compare runs of the same
``--calls`` only (180,000 shows steady merging). Nothing is written but a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import os
import pstats
import tempfile
import threading
import time
from pathlib import Path

from benchkit import cpu_seconds_by_thread, env_of, env_setting
from fastapi import FastAPI
from llmops_kit.http.gc_tuning import THRESHOLDS, tune_after_startup
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_warehouse.bootstrap import build_runtime
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import warehouse_topics
from profile_stages import Stages, bodies, ingest_stages


async def _stored(store: object, tenant: str) -> int:
    from datetime import UTC, datetime, timedelta

    from llmops_warehouse.models import MetricsQuery

    now = datetime.now(UTC)
    q = MetricsQuery(tenant_id=tenant, start=now - timedelta(days=2), end=now + timedelta(days=1))
    rows = await store.summary(q)  # type: ignore[attr-defined]
    return sum(r.calls for r in rows)


_THREADS: list[cProfile.Profile] = []
gc_spent: list[float] = [0.0, 0]
"""Thread CPU seconds in the cyclic garbage collector, and its collections, during the measured window."""
_gc_started: list[float] = [0.0]


def _time_gc(phase: str, _info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.thread_time()
    else:
        gc_spent[0] += time.thread_time() - _gc_started[0]
        gc_spent[1] += 1


_SAMPLES: dict[str, int] = {}


def _sample(thread_id: int, stop: threading.Event) -> None:
    """Every millisecond, the innermost frames of ``thread_id`` (the event loop): a statistical profile that, unlike
    cProfile, barely slows what it watches. Samples in the loop's ``select`` are idle and left out."""
    import sys

    while not stop.wait(0.001):
        frame = sys._current_frames().get(thread_id)
        names = []
        while frame is not None and len(names) < 4:
            code = frame.f_code
            names.append(f"{Path(code.co_filename).name}:{code.co_name}")
            frame = frame.f_back
        if names and not names[0].startswith("selectors.py"):
            key = " < ".join(names)
            _SAMPLES[key] = _SAMPLES.get(key, 0) + 1


def _profile_thread(*_: object) -> None:
    """A profiler for each thread started while profiling (the store's writer thread among them)."""
    profiler = cProfile.Profile()
    _THREADS.append(profiler)
    profiler.enable()


async def one_round(args: argparse.Namespace, workdir: Path, profile: cProfile.Profile | None) -> dict[str, float]:
    broker = LocalKafkaBroker(workdir / "kafka").start()
    try:
        await ensure_topics(broker.bootstrap_servers, TopicCatalog.load(), warehouse_topics())
        producer = EventProducer(broker.bootstrap_servers, service="stages")
        await producer.start()
        try:
            await ingest_stages(Stages(profile=False), producer, bodies(args.calls, 1000), "derived")
        finally:
            await producer.stop()
        os.environ.update(
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            CLICKHOUSE_URL=f"chdb://{workdir / 'clickhouse'}",
            WAREHOUSE_ENSURE_TOPICS="false",
            WAREHOUSE_RETENTION_POLICIES_WAIT_S="0",
        )
        runtime = await build_runtime(FastAPI(), WarehouseSettings())
        store = runtime.components[0]
        *others, consumer = runtime.components
        for component in others:
            await component.start()
        gc_spent[:] = [0.0, 0]
        before, wall = cpu_seconds_by_thread([os.getpid()]), time.monotonic()
        await consumer.start()
        if profile is not None:
            profile.enable()
            threading.setprofile(_profile_thread)
        stop = threading.Event()
        if args.sample:
            threading.Thread(target=_sample, args=(threading.get_ident(), stop), daemon=True).start()
        try:
            while await _stored(store, "stages") < args.calls:  # noqa: ASYNC110 - the count is polled, as users do
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            if profile is not None:
                profile.disable()
                threading.setprofile(None)
        after, wall = cpu_seconds_by_thread([os.getpid()]), time.monotonic() - wall
        for component in reversed(runtime.components):
            await component.stop()
        spent = {name: after[name] - before.get(name, 0.0) for name in after}
        spent = {name: s for name, s in spent.items() if s > 0.05}
        print(f"  {args.calls:,} calls in {wall:.1f} s ({args.calls / wall:,.0f} calls/s)")
        collector = f"{gc_spent[1]} collections, {gc_spent[0] / args.calls * 1e6:.1f} us per call"
        print(f"  garbage collector (all threads): {collector}")
        return spent
    finally:
        broker.stop()


def _warehouse_gc_thresholds() -> tuple[int, int, int]:
    """The collector's thresholds ``llmops-warehouse`` serves with (the kit's before docs/adr/0053)."""
    from llmops_warehouse.entrypoints import main as entrypoint

    return getattr(entrypoint, "GC_THRESHOLDS", THRESHOLDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--env", type=env_setting, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sample", action="store_true", help="sample the event loop's stack every millisecond")
    args = parser.parse_args()
    os.environ.update(env_of(args.env))
    threading.current_thread().name = "main"
    tune_after_startup(_warehouse_gc_thresholds())
    gc.callbacks.append(_time_gc)
    profile = cProfile.Profile() if args.profile else None
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-consumer-") as tmp:
            spent = asyncio.run(one_round(args, Path(tmp), profile))
        total = sum(spent.values())
        parts = ", ".join(f"{n} {s / args.calls * 1e6:.1f}" for n, s in sorted(spent.items(), key=lambda x: -x[1]))
        print(f"round {i + 1}: {total / args.calls * 1e6:.1f} us per call (by thread: {parts})", flush=True)
    if _SAMPLES:
        total = sum(_SAMPLES.values())
        print(f"event loop samples (not idle): {total}")
        for key, n in sorted(_SAMPLES.items(), key=lambda x: -x[1])[:30]:
            print(f"{n / total:6.1%}  {key}")
    if profile is not None:
        for title, stats in (("the event loop", pstats.Stats(profile)), ("threads", _thread_stats())):
            out = io.StringIO()
            stats.stream = out  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(40)
            print(f"--- {title}\n{out.getvalue()}")


def _thread_stats() -> pstats.Stats:
    stats = pstats.Stats(_THREADS[0])
    for other in _THREADS[1:]:
        with contextlib.suppress(TypeError):
            stats.add(pstats.Stats(other))
    return stats


if __name__ == "__main__":
    main()
