"""Insert throughput of ClickHouseEventStore on embedded chDB (not a test; run by hand).

    uv run python -m tests.integration.warehouse.bench_insert [--rows 50000] [--path /tmp/bench-chdb]

Measures, per batch size, the full ``insert_calls`` path (dedup pre-check + column pivot + insert + the
materialized rollup) on realistic calls (~3.5 KB of message/output text each), and separately the pre-check
and the pivot, and a redelivered batch (all rows skipped). Event parsing (pydantic) is the consumer's cost
and is measured separately for reference.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded
from llmops_warehouse.adapters import clickhouse_store
from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.migrations import apply_migrations

WORDS = ["".join(random.choices(string.ascii_lowercase, k=random.randint(2, 9))) for _ in range(5000)]


def text(chars: int) -> str:
    out: list[str] = []
    n = 0
    while n < chars:
        word = random.choice(WORDS)
        out.append(word)
        n += len(word) + 1
    return " ".join(out)


def make_events(n: int, tenants: int, start: datetime) -> list[CloudEvent[CallRecorded]]:
    system = text(600)
    events = []
    for i in range(n):
        status = "error" if random.random() < 0.03 else "ok"
        payload = CallRecorded.model_validate(
            {
                "call_id": f"call-{i}-{random.getrandbits(64):x}",
                "trace_id": f"{random.getrandbits(128):032x}",
                "app": random.choice(["chat", "search", "support", "agent"]),
                "user_id": f"user-{random.randint(1, 5000)}",
                "session_id": f"sess-{random.randint(1, 20000)}",
                "model": random.choice(["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-3-70b"]),
                "provider": "openai",
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": text(random.randint(200, 1200))},
                    {"role": "assistant", "content": text(random.randint(100, 600))},
                    {"role": "user", "content": text(random.randint(50, 300))},
                ],
                "output": text(random.randint(300, 1500)),
                "finish_reason": "stop",
                "parameters": {"temperature": 0.2, "max_tokens": 1024},
                "usage": {"prompt_tokens": 900, "completion_tokens": 250, "total_tokens": 1150},
                "started_at": start + timedelta(milliseconds=i * 7),
                "latency_ms": random.lognormvariate(6.5, 0.6),
                "time_to_first_token_ms": random.uniform(80, 400),
                "status": status,
                "error": {"type": "RateLimit", "message": "429 from provider"} if status == "error" else None,
                "tags": ["prod", "v2"],
                "metadata": {"region": "eu-west-1", "tier": "pro"},
            }
        )
        events.append(CloudEvent.wrap(payload, source="bench", tenant_id=f"tenant-{i % tenants}"))
    return events


class Meter:
    """Wall and process CPU seconds (chDB's engine threads run in this process, so CPU covers them too)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def run(self, fn: Callable[[], Any]) -> Any:
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        return result


def shifted(batch: list[CloudEvent[CallRecorded]], hours: int) -> list[CloudEvent[CallRecorded]]:
    """The batch as new events (fresh ids) ``hours`` later, so every round writes new rows."""
    return [
        CloudEvent.wrap(
            e.data.model_copy(update={"started_at": e.data.started_at + timedelta(hours=hours)}),
            source=e.source,
            tenant_id=e.tenant_id,
        )
        for e in batch
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000, help="rows written per configuration")
    parser.add_argument("--path", default="/tmp/llmops-bench-chdb")
    parser.add_argument("--tenants", type=int, default=20)
    args = parser.parse_args()
    shutil.rmtree(args.path, ignore_errors=True)
    client = connect(f"chdb://{args.path}")
    apply_migrations(client, database="bench")
    store = ClickHouseEventStore(client, "bench")
    start = datetime.now(UTC) - timedelta(days=3)

    events = make_events(args.rows, args.tenants, start)
    sample = [e.to_json_bytes() for e in events[:2000]]
    avg = statistics.mean(len(b) for b in sample)
    parse = Meter()
    parse.run(lambda: [CloudEvent[CallRecorded].model_validate_json(b) for b in sample])
    print(f"{len(events)} events per configuration, avg JSON {avg / 1024:.1f} KiB")
    print(f"(consumer side, not the store) JSON parse+validate: {len(sample) / parse.cpu:,.0f} events per CPU-second")
    print("insert_calls, sustained (column-oriented; CPU includes chDB's background merges)")
    print("batch   wall rows/s   CPU rows/s  ms/batch  pre-check ms  pivot ms  redelivered batch ms")
    hours = 0
    for batch_size in (500, 1000, 5000):
        hours += 1
        total, check, pivot, redeliver = Meter(), Meter(), Meter(), Meter()
        batches = [shifted(events[i : i + batch_size], hours) for i in range(0, args.rows, batch_size)]
        written = 0
        for batch in batches:
            keyed, _ = clickhouse_store._dedupe_batch(batch)
            check.run(lambda: store._stored_keys(client, keyed))  # noqa: B023
            pivot.run(lambda: clickhouse_store._to_columns(list(keyed.items())))  # noqa: B023
            written += total.run(lambda: store.insert_calls(batch))  # noqa: B023
        last = batches[-1]
        skipped = redeliver.run(lambda: store.insert_calls(last))  # noqa: B023
        assert written == args.rows and skipped == 0
        n = len(batches)
        print(
            f"{batch_size:5d} {written / total.wall:12,.0f} {written / total.cpu:12,.0f} {total.wall / n * 1000:9.0f}"
            f" {check.wall / n * 1000:13.1f} {pivot.wall / n * 1000:9.1f} {redeliver.wall * 1000:21.1f}"
        )

    print("client.insert only, 5000-row batches, column- vs row-oriented interleaved (pivot included)")
    contexts = {
        "column": client.create_insert_context(
            table="calls", database="bench", column_names=list(clickhouse_store.INSERT_COLUMNS), column_oriented=True
        ),
        "row": client.create_insert_context(
            table="calls", database="bench", column_names=list(clickhouse_store.INSERT_COLUMNS)
        ),
    }
    meters = {name: Meter() for name in contexts}
    rounds = max(2, args.rows // 5000)
    for r in range(rounds):
        for name in ("column", "row") if r % 2 else ("row", "column"):
            hours += 1
            keyed, _ = clickhouse_store._dedupe_batch(shifted(events[:5000], hours))
            context = contexts[name]

            def insert(keyed: Any = keyed, context: Any = context, name: str = name) -> None:
                columns = clickhouse_store._to_columns(list(keyed.items()))
                context.data = columns if name == "column" else [list(row) for row in zip(*columns, strict=True)]
                client.insert(context=context)
                context.data = None

            meters[name].run(insert)
    for name, meter in meters.items():
        print(
            f"  {name:6s}: {rounds * 5000 / meter.wall:8,.0f} wall rows/s, {rounds * 5000 / meter.cpu:8,.0f} CPU rows/s"
        )
    rows_total = client.command("SELECT count() FROM bench.calls")
    size = client.query(
        "SELECT formatReadableSize(sum(data_compressed_bytes)), formatReadableSize(sum(data_uncompressed_bytes))"
        " FROM system.columns WHERE database = 'bench' AND table = 'calls'"
    ).result_rows[0]
    print(f"calls table: {rows_total:,} rows, {size[0]} compressed ({size[1]} uncompressed)")


if __name__ == "__main__":
    main()
