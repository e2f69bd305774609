"""`llmops up`: the whole platform on this machine, a demo workload, and where to look.

Runs in the foreground until Ctrl-C (SIGINT) or SIGTERM, then stops the services (they drain and commit)
and the broker, and exits 0. With ``once`` it stops right after the demo and the tour instead. Either way
nothing is left running when it returns. While it runs, ``<data>/up.json`` holds its pid, the URLs and the
children's pids; the other commands read the URLs from it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from llmops_kit.infra import KafkaBrokerError
from llmops_kit.infra.process import ProcessError
from rich.console import Console
from rich.markup import escape

from llmops_cli.client import ApiError, PlatformClient
from llmops_cli.config import STATE_FILE, CliConfig, read_running_state
from llmops_cli.demo import demo_calls
from llmops_cli.platform import LocalPlatform, PlatformPorts, ensure_dev_keys
from llmops_cli.render import table
from llmops_cli.sending import SendError, send_records

__all__ = ["run_up"]

QUERYABLE_TIMEOUT_S = 60.0

_Handler = Callable[[int, FrameType | None], Any] | int | None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _signals(handler: _Handler) -> Iterator[None]:
    """SIGINT and SIGTERM handled by ``handler`` inside the block, restored after it."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_up(data_dir: Path, *, ports: PlatformPorts, demo_calls: int, once: bool, console: Console) -> int:
    """Start everything, send the demo, print the tour; stop cleanly on Ctrl-C. Returns an exit code."""
    if (running := read_running_state(data_dir)) is not None:
        console.print(
            f"[red]error:[/red] another `llmops up` (pid {running['pid']}) is using {data_dir}: stop it first "
            f"(or remove {data_dir / STATE_FILE} if that process is not llmops)"
        )
        return 1
    if len({ports.kafka, ports.kafka_controller, ports.ingest, ports.warehouse}) < 4:
        console.print(f"[red]error:[/red] the four ports must differ: {ports}")
        return 1
    platform = LocalPlatform(data_dir, ports)
    if busy := platform.busy_ports():
        console.print(
            f"[red]error:[/red] already in use: {', '.join(busy)} (another `llmops up` or docker compose?); "
            "pick free ports with those options"
        )
        return 1
    with _signals(_interrupt):
        try:
            return _run(platform, data_dir, demo_calls=demo_calls, once=once, console=console)
        except KeyboardInterrupt:
            console.print("\ninterrupted")
            return 0
        except (KafkaBrokerError, ProcessError, ApiError) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            return 1
        finally:
            with _signals(signal.SIG_IGN), console.status("stopping..."):  # a second Ctrl-C must not orphan
                platform.stop()
                (data_dir / STATE_FILE).unlink(missing_ok=True)
            console.print("stopped.")


def _run(platform: LocalPlatform, data_dir: Path, *, demo_calls: int, once: bool, console: Console) -> int:
    keys_file, keys = ensure_dev_keys(data_dir)
    with console.status("starting Apache Kafka (first run fetches it from Maven Central)..."):
        platform.start_kafka()
    created = platform.apply_topic_catalog()
    console.print(f"[green]✓[/green] Kafka at {platform.bootstrap_servers} ({len(created)} topics created)")
    with console.status("starting ingest and warehouse..."):
        platform.start_services(keys_file)
    console.print(f"[green]✓[/green] ingest at {platform.url('ingest')}, warehouse at {platform.url('warehouse')}")
    _write_state(platform, data_dir)
    if demo_calls:
        config = CliConfig(platform.url("ingest"), platform.url("warehouse"), keys["writer"])
        with PlatformClient(config) as client:
            _run_demo(client, demo_calls, console)
    _print_tour(platform, data_dir, console, once=once)
    if once:
        return 0
    console.print(f"\n[bold]running[/bold] (pid {os.getpid()}) - press Ctrl-C to stop")
    while not (dead := platform.dead_processes()):
        time.sleep(1)
    for name in dead:
        console.print(f"[red]{name} exited[/red]; last log lines:\n{escape(platform.log_tail(name))}")
    return 1


def _write_state(platform: LocalPlatform, data_dir: Path) -> None:
    state = {
        "pid": os.getpid(),
        "ingest_url": platform.url("ingest"),
        "warehouse_url": platform.url("warehouse"),
        "kafka_bootstrap_servers": platform.bootstrap_servers,
        "children": platform.pids(),
    }
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))


def _stored_calls(client: PlatformClient) -> tuple[int, list[dict[str, Any]]]:
    try:
        items = client.summary(start="1970-01-01T00:00:00Z", group_by="model").get("items", [])
    except ApiError:
        return -1, []
    return sum(int(r.get("calls", 0)) for r in items), items


def _run_demo(client: PlatformClient, count: int, console: Console) -> None:
    before, _ = _stored_calls(client)
    records = list(demo_calls(count, seed=int(time.time())))
    try:
        result = send_records(client, records, batch_size=250, console=console)
    except SendError as exc:
        raise exc.cause from exc
    console.print(f"[green]✓[/green] demo: {result.accepted} calls accepted, {len(result.rejected)} rejected")
    expected = max(before, 0) + result.accepted
    deadline = time.monotonic() + QUERYABLE_TIMEOUT_S
    with console.status("waiting for the calls to become queryable in ClickHouse..."):
        while (stored := _stored_calls(client))[0] < expected and time.monotonic() < deadline:
            time.sleep(0.5)
    total, items = stored
    if total < expected:
        console.print(f"[yellow]only {max(total, 0)} of {expected} calls queryable after {QUERYABLE_TIMEOUT_S:.0f}s[/]")
    console.print(table("stored calls by model", items, ("group", "calls", "errors", "total_tokens", "latency_p95_ms")))


def _print_tour(platform: LocalPlatform, data_dir: Path, console: Console, *, once: bool) -> None:
    ingest, warehouse = platform.url("ingest"), platform.url("warehouse")
    when = "after `llmops up` without --once (this run stops now)" if once else "in another terminal while it runs"
    console.print(
        f"""
[bold]Where to look[/bold]
  ingest API     {ingest}/docs   (OpenAPI: {ingest}/openapi.json)
  warehouse API  {warehouse}/docs   (OpenAPI: {warehouse}/openapi.json)
  metrics        {ingest}/metrics  {warehouse}/metrics
  logs           {data_dir}/logs/ and {data_dir}/kafka/broker.log
  API keys       {data_dir}/credentials.json (tenant 'demo'; services see only hashes)

[bold]Try[/bold] ({when}, from this directory or with the same LLMOPS_DATA_DIR)
  uv run llmops calls --limit 10
  uv run llmops metrics --group-by app
  uv run llmops metrics --timeseries --step 5m
  curl -s -H "Authorization: Bearer $(jq -r .reader {data_dir}/credentials.json)" \\
       "{warehouse}/v1/metrics/summary?group_by=model&start=1970-01-01T00:00:00Z"
""",
        highlight=False,
    )
