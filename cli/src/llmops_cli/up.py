"""`llmops up`: the whole platform on this machine, a demo workload, and where to look."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType

from llmops_cli.client import ApiError, PlatformClient
from llmops_cli.config import CliConfig
from llmops_cli.demo import demo_calls
from llmops_cli.main import send_records
from llmops_cli.platform import LocalPlatform, ensure_dev_keys
from llmops_cli.render import console, table

__all__ = ["run_up"]


def _interrupt_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run_up(data_dir: Path, *, demo_calls: int, detach: bool) -> int:
    """Start everything, send the demo, print the tour; stop cleanly on Ctrl-C. Returns an exit code."""
    _interrupt_on_sigterm()
    platform = LocalPlatform(data_dir)
    keys_file, keys = ensure_dev_keys(data_dir)
    try:
        with console.status("starting Apache Kafka (first run fetches it from Maven Central)..."):
            platform.start_kafka()
        console.print(f"[green]✓[/green] Kafka at {platform.bootstrap_servers}")
        with console.status("starting ingest and warehouse..."):
            platform.start_services(keys_file)
        console.print(f"[green]✓[/green] ingest at {platform.url('ingest')}, warehouse at {platform.url('warehouse')}")
        config = CliConfig(platform.url("ingest"), platform.url("warehouse"), keys["writer"])
        if demo_calls:
            _run_demo(PlatformClient(config), demo_calls)
        _print_tour(platform, data_dir)
        if detach:
            return 0
        console.print("\n[bold]running[/bold] - press Ctrl-C to stop")
        while not platform.dead_services():
            time.sleep(1)
        for dead in platform.dead_services():
            console.print(f"[red]{dead.name} exited[/red]:\n{dead.log_tail()}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        with console.status("stopping..."):
            platform.stop()
        console.print("stopped.")


def _run_demo(client: PlatformClient, count: int) -> None:
    records = list(demo_calls(count, seed=int(time.time())))
    accepted, rejected = send_records(client, records, batch_size=250)
    console.print(f"[green]✓[/green] demo: {accepted} calls accepted, {len(rejected)} rejected")
    deadline = time.monotonic() + 60
    with console.status("waiting for the calls to become queryable in ClickHouse..."):
        while time.monotonic() < deadline:
            try:
                summary = client.summary(start="1970-01-01T00:00:00Z", group_by="model")
            except ApiError:
                summary = {"items": []}
            if sum(r.get("calls", 0) for r in summary.get("items", [])) >= accepted:
                break
            time.sleep(0.5)
    console.print(
        table(
            "demo data by model",
            summary.get("items", []),
            ("group", "calls", "errors", "total_tokens", "latency_p95_ms"),
        )
    )


def _print_tour(platform: LocalPlatform, data_dir: Path) -> None:
    ingest, warehouse = platform.url("ingest"), platform.url("warehouse")
    console.print(
        f"""
[bold]Where to look[/bold]
  ingest API     {ingest}/docs   (OpenAPI: {ingest}/openapi.json)
  warehouse API  {warehouse}/docs   (OpenAPI: {warehouse}/openapi.json)
  metrics        {ingest}/metrics  {warehouse}/metrics
  logs           {data_dir}/logs/
  API keys       {data_dir}/credentials.json (tenant 'demo'; services see only hashes)

[bold]Try[/bold]
  uv run llmops calls --limit 10
  uv run llmops metrics --group-by app
  curl -s -H "Authorization: Bearer $(jq -r .reader {data_dir}/credentials.json)" \\
       "{warehouse}/v1/metrics/summary?group_by=model&start=1970-01-01T00:00:00Z"
"""
    )
