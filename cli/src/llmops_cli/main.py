"""`llmops`: run the platform locally, send calls, and look at calls and metrics from the terminal."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from llmops_cli.client import ApiError, PlatformClient
from llmops_cli.config import data_dir, load_config
from llmops_cli.render import console, table

app = typer.Typer(help="The LLMOps platform command line.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.")
app.add_typer(keys_app, name="keys")

IngestUrl = Annotated[str | None, typer.Option(help="Ingest base URL [env LLMOPS_INGEST_URL]")]
WarehouseUrl = Annotated[str | None, typer.Option(help="Warehouse base URL [env LLMOPS_WAREHOUSE_URL]")]
ApiKey = Annotated[str | None, typer.Option(help="API key [env LLMOPS_API_KEY]", show_default=False)]

CALL_COLUMNS = ("started_at", "call_id", "app", "model", "status", "total_tokens", "latency_ms")
METRIC_COLUMNS = (
    "group",
    "calls",
    "errors",
    "error_rate",
    "total_tokens",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)


def _client(ingest_url: str | None, warehouse_url: str | None, api_key: str | None) -> PlatformClient:
    return PlatformClient(load_config(ingest_url, warehouse_url, api_key))


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def send_records(client: PlatformClient, records: list[dict[str, Any]], batch_size: int) -> tuple[int, list[Any]]:
    """Send in batches with a progress bar; returns (accepted count, rejections)."""
    accepted, rejected = 0, []
    columns = (TextColumn("[bold]sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("send", total=len(records))
        for offset, batch in zip(itertools.count(0, batch_size), _batches(records, batch_size), strict=False):
            result = client.send_calls(batch)
            accepted += len(result.get("accepted", []))
            rejected += [{**r, "index": r["index"] + offset} for r in result.get("rejected", [])]
            progress.advance(task, len(batch))
    return accepted, rejected


@app.command()
def send(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines, one call record per line")],
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 500,
    ingest_url: IngestUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Send call records from a JSON Lines file to ingest, with a progress bar."""
    lines = [line for line in file.read_text().splitlines() if line.strip()]
    try:
        records = [json.loads(line) for line in lines]
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{file}: line is not JSON: {exc}") from exc
    client = _client(ingest_url, None, api_key)
    try:
        accepted, rejected = send_records(client, records, batch_size)
    except ApiError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]{accepted:,} accepted[/green], [red]{len(rejected):,} rejected[/red]")
    for rejection in rejected[:20]:
        console.print(f"  line {rejection['index'] + 1}: {rejection['errors']}")
    if rejected:
        raise typer.Exit(2)


@app.command("demo-calls")
def demo_calls_command(
    count: Annotated[int, typer.Argument(min=1, max=1_000_000)] = 1000,
    seed: int = 7,
) -> None:
    """Write realistic demo call records (started in the last 30 minutes) as JSON Lines to stdout."""
    from llmops_cli.demo import demo_calls

    for record in demo_calls(count, seed=seed):
        typer.echo(json.dumps(record))


@app.command()
def calls(
    app_name: Annotated[str | None, typer.Option("--app")] = None,
    model: str | None = None,
    status: str | None = None,
    search: Annotated[str | None, typer.Option(help="Text to look for in messages and output")] = None,
    since: Annotated[int, typer.Option(help="Minutes back")] = 60,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    warehouse_url: WarehouseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List recent calls as a table."""
    start = (datetime.now(UTC) - timedelta(minutes=since)).isoformat()
    page = _client(None, warehouse_url, api_key).list_calls(
        app=app_name, model=model, status=status, text=search, start=start, limit=limit
    )
    rows = [{**c, "total_tokens": (c.get("usage") or {}).get("total_tokens")} for c in page.get("items", [])]
    console.print(table(f"calls (last {since} min)", rows, CALL_COLUMNS))
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}")


@app.command()
def metrics(
    group_by: Annotated[str, typer.Option(help="model, app or none")] = "model",
    since: Annotated[int, typer.Option(help="Minutes back")] = 60,
    warehouse_url: WarehouseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Summary metrics (calls, errors, tokens, latency quantiles) as a table."""
    start = (datetime.now(UTC) - timedelta(minutes=since)).isoformat()
    result = _client(None, warehouse_url, api_key).summary(start=start, group_by=group_by)
    console.print(table(f"summary by {group_by} (last {since} min)", result.get("items", []), METRIC_COLUMNS))


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant the key is bound to")],
    role: Annotated[str, typer.Option(help="admin, writer, reader or ingest")] = "writer",
    key_id: Annotated[str | None, typer.Option("--id")] = None,
) -> None:
    """Create a key: prints it once, and the hashed entry for the keys file."""
    from llmops_kit.auth import ApiKeyRecord, generate_key, hash_key

    key = generate_key()
    record = ApiKeyRecord(
        id=key_id or f"{tenant}-{role}-{int(time.time())}",
        tenant_id=tenant,
        role=role,
        sha256=hash_key(key),
    )
    console.print(f"key (shown once): [bold]{key}[/bold]")
    console.print("add to the keys file:")
    console.print_json(json.dumps({"keys": [record.model_dump()]}))


@app.command()
def up(
    demo_calls: Annotated[int, typer.Option(help="Demo calls to send once started (0: none)")] = 500,
    detach: Annotated[bool, typer.Option(help="Return after the demo instead of waiting for Ctrl-C")] = False,
) -> None:
    """Start Kafka, the services and embedded ClickHouse; send a demo workload; wait for Ctrl-C."""
    from llmops_cli.up import run_up

    raise typer.Exit(run_up(data_dir(), demo_calls=demo_calls, detach=detach))


if __name__ == "__main__":
    app()
