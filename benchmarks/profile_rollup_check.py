"""The price of the rollup check (docs/adr/0064) on a batch of calls that are all stored already.

A batch that finds calls already stored compares the rollup with the calls over their minutes before it inserts the
rest. This script stores ``--calls`` calls of one tenant in one minute on an embedded chDB engine, adds ``--dense``
more rows of that tenant in the same minute (ClickHouse generates them: the check's query reads them all), then
redelivers a batch of ``--batch`` stored calls, alternating runs with the check and with it replaced by a no-op,
and reports the medians of the wall time and of the calling thread's CPU of ``insert_calls``. Nothing is written but
a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v2 import CallRecorded, ChatMessage, Choice
from llmops_warehouse.adapters import clickhouse_store
from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.migrations import apply_migrations
from rich.console import Console
from rich.table import Table

console = Console()
DATABASE = "rollup_check"


def _call(tenant: str, started_at: datetime, n: int) -> CloudEvent[CallRecorded]:
    data = CallRecorded(
        call_id=f"check-{n}", app="chat", environment="production", model="gpt-4o", provider="openai",
        messages=[ChatMessage(role="user", content="x" * 400)], choices=[Choice(output="ok", finish_reason="stop")],
        started_at=started_at, latency_ms=100.0, status="ok",
    )  # fmt: skip
    return CloudEvent.wrap(data, source="/benchmarks/rollup-check", tenant_id=tenant, event_id=new_uuid7())


def _dense_rows(client: Any, tenant: str, minute: datetime, rows: int) -> None:
    client.command(
        f"INSERT INTO {DATABASE}.calls (event_id, tenant_id, call_id, app, environment, model, provider,"
        " message_roles, message_contents, message_names, message_tool_call_ids, output, parameters, latency_ms,"
        " status, started_at, received_at) SELECT generateUUIDv4(number), {t:String}, concat('bg-', toString(number)),"
        " 'chat', 'production', 'gpt-4o', 'openai', ['user'], ['x'], [''], [''], 'ok', '{}', 100, 'ok',"
        " {m:DateTime64(3)} + toIntervalMillisecond(number % 60000), now64(3) FROM numbers({n:UInt64})",
        parameters={"t": tenant, "m": minute, "n": rows},
    )


def _timed(call: Callable[[], int]) -> tuple[float, float]:
    cpu, wall = time.thread_time(), time.perf_counter()
    assert call() == 0  # every call of the batch is stored: nothing is inserted
    return time.thread_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls stored through the store")
    parser.add_argument("--dense", type=int, default=200_000, help="more rows of the tenant in the same minute")
    parser.add_argument("--batch", type=int, default=2_000, help="stored calls redelivered in one batch")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    client = connect(f"chdb://{tempfile.mkdtemp(prefix='rollup-check-')}/engine")
    apply_migrations(client, database=DATABASE)
    store = ClickHouseEventStore(client, DATABASE)
    tenant = "bench-rollup-check"
    minute = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
    spacing = max(1, 60_000 // args.calls)
    calls = [_call(tenant, minute + timedelta(milliseconds=spacing * i), i) for i in range(args.calls)]
    for start in range(0, len(calls), 5_000):
        store.insert_calls(calls[start : start + 5_000])
    _dense_rows(client, tenant, minute, args.dense)

    check = clickhouse_store.restore_rollup
    measured: dict[str, list[tuple[float, float]]] = {"with the check": [], "without it": []}
    batch = calls[: args.batch]
    for _ in range(args.rounds):
        for name in measured:
            clickhouse_store.restore_rollup = check if name == "with the check" else (lambda *_, **__: 0)  # type: ignore[assignment]
            measured[name].append(_timed(lambda: store.insert_calls(batch)))
    clickhouse_store.restore_rollup = check

    table = Table(title=f"insert_calls of {args.batch:,} stored calls, {args.calls + args.dense:,} rows in the minute")
    for column in ("", "wall ms (median)", "thread CPU ms (median)"):
        table.add_column(column, justify="right" if column else "left")
    for name, runs in measured.items():
        wall = statistics.median(w for _, w in runs) * 1e3
        cpu = statistics.median(c for c, _ in runs) * 1e3
        table.add_row(name, f"{wall:,.0f}", f"{cpu:,.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
