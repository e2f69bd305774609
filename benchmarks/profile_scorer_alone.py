"""The online scorer alone, from a Kafka backlog, under fetch sizes taken in turns (docs/adr/0059).

``bench_evaluation.py`` times Kafka -> stored scores with the warehouse on the same two cores; this measures what
the evaluation process does by itself from Kafka. It starts the benchmark's platform (broker, warehouse,
evaluation), configures the default heuristic set through a first 2,000 calls, then stops the warehouse. Each
turn stops the evaluation process, publishes ``--calls`` new calls, restarts it with
``EVALUATION_FETCH_PARTITION_BYTES`` set to the turn's size, and times its first commit to its last (the start-up
and first batch apart, as phase C does); CPU per call is the process's utime+stime over the same window.

    uv run python benchmarks/profile_scorer_alone.py --calls 50000 --rounds 2 --fetch-mib 1 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import bench_evaluation as bench
import benchkit
from aiokafka.admin import AIOKafkaAdminClient
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas.v2 import CallRecorded

GROUP = "evaluation-bench"


async def turn(
    platform: bench.Platform, admin: AIOKafkaAdminClient, producer: EventProducer, calls: int, mib: int
) -> str:
    """One backlog of ``calls`` scored by a process restarted with ``mib`` MiB fetches: its rate and CPU per call."""
    scorer = platform.processes["evaluation"]
    scorer.stop()
    _, encoded = bench.call_events(calls)
    before = await bench.committed(admin, GROUP, CallRecorded.topic)
    for i in range(0, len(encoded), 2000):
        await producer.publish_encoded(encoded[i : i + 2000])
    scorer.env["EVALUATION_FETCH_PARTITION_BYTES"] = str(mib << 20)
    scorer.start()
    first, first_count = await bench.first_progress(admin, GROUP, CallRecorded.topic, before)
    start = benchkit.cpu_snapshot(platform.pgids())
    done = await bench.wait_committed(admin, GROUP, CallRecorded.topic, before + calls, 600)
    window = benchkit.CpuWindow.between(start, benchkit.cpu_snapshot(platform.pgids()))
    scorer.wait_ready(timeout_s=60)
    counted = before + calls - first_count
    per_call = {k: v / counted * 1e6 for k, v in window.seconds.items()}
    return (
        f"fetch {mib} MiB: {counted / (done - first):,.0f} calls/s, evaluation {per_call.get('evaluation', 0):.0f} "
        f"us/call, kafka {per_call.get('kafka', 0):.0f}, load {os.getloadavg()[0]:.1f}"
    )


async def run(platform: bench.Platform, args: argparse.Namespace) -> None:
    await bench.online(platform, *bench.call_events(2000))  # the evaluators configured, the processes started
    platform.processes["warehouse"].stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    producer = EventProducer(platform.bootstrap, service="bench")
    await admin.start()
    await producer.start()
    try:
        for round_ in range(args.rounds):
            for mib in args.fetch_mib:
                print(f"round {round_ + 1}, {await turn(platform, admin, producer, args.calls, mib)}", flush=True)
    finally:
        await producer.stop()
        await admin.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50_000, help="Calls in each turn's backlog")
    parser.add_argument("--rounds", type=int, default=2, help="Times each fetch size is taken")
    parser.add_argument("--fetch-mib", type=int, nargs="+", default=[1, 8], help="Fetch sizes per partition, MiB")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-") as tmp:
        platform = bench.Platform(Path(tmp))
        try:
            platform.start()
            asyncio.run(run(platform, args))
        finally:
            platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
