"""`llmops calls` and `llmops metrics`: the warehouse's query API as tables."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import Annotated, Any

import typer

from llmops_cli.client import ApiError
from llmops_cli.context import cli_context
from llmops_cli.options import ApiKey, Json, Since, WarehouseUrl, seconds, since_start
from llmops_cli.render import CALL_COLUMNS, METRIC_COLUMNS, TIMESERIES_COLUMNS, call_rows, table

__all__ = ["calls", "metrics"]

Text = Annotated[str | None, typer.Option(show_default=False)]


class Status(StrEnum):
    ok = "ok"
    error = "error"


class GroupBy(StrEnum):
    model = "model"
    app = "app"
    none = "none"


def calls(
    ctx: typer.Context,
    app_name: Annotated[str | None, typer.Option("--app", show_default=False)] = None,
    environment: Text = None,
    model: Text = None,
    status: Annotated[Status | None, typer.Option(show_default=False)] = None,
    user: Annotated[str | None, typer.Option(help="A user_id", show_default=False)] = None,
    search: Annotated[str | None, typer.Option(help="Text to look for in messages and output")] = None,
    since: Since = "60m",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    cursor: Annotated[str | None, typer.Option(help="Next page: the cursor the previous page printed")] = None,
    as_json: Json = False,
    warehouse_url: WarehouseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List recent calls, newest first, as a table."""
    cli = cli_context(ctx)
    params: dict[str, Any] = {
        "app": app_name,
        "environment": environment,
        "model": model,
        "status": status.value if status else None,
        "user_id": user,
        "text": search,
        "start": since_start(since),
        "limit": limit,
        "cursor": cursor,
    }
    with cli.client(None, warehouse_url, api_key) as client:
        try:
            page = client.list_calls(**params)
        except ApiError as exc:
            raise cli.fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    items = page.get("items", [])
    cli.out.print(table(f"calls (last {since}, newest first)", call_rows(items), CALL_COLUMNS))
    if page.get("next_cursor"):
        cli.out.print(f"more: repeat with --cursor {page['next_cursor']}", highlight=False, soft_wrap=True)


def metrics(
    ctx: typer.Context,
    group_by: Annotated[GroupBy, typer.Option(help="Group rows by")] = GroupBy.model,
    since: Since = "60m",
    app_name: Annotated[str | None, typer.Option("--app", show_default=False)] = None,
    environment: Text = None,
    model: Text = None,
    timeseries: Annotated[bool, typer.Option("--timeseries", help="One row per time bucket (and group)")] = False,
    step: Annotated[
        str | None, typer.Option(help="Bucket size for --timeseries, whole minutes: 5m, 1h [default: ~12 buckets]")
    ] = None,
    as_json: Json = False,
    warehouse_url: WarehouseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Calls, errors, tokens and latency quantiles over a window, as a table (or per bucket with --timeseries)."""
    cli = cli_context(ctx)
    params: dict[str, Any] = {
        "start": since_start(since),
        "group_by": group_by.value,
        "app": app_name,
        "environment": environment,
        "model": model,
    }
    if step is not None and not timeseries:
        raise typer.BadParameter("only with --timeseries", param_hint="--step")
    if timeseries:
        params["step_seconds"] = _step_seconds(step, seconds(since, "--since"))
    with cli.client(None, warehouse_url, api_key) as client:
        try:
            result = client.timeseries(**params) if timeseries else client.summary(**params)
        except ApiError as exc:
            raise cli.fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    rows = [{**row, "group": row.get("group") or "(all)"} for row in result.get("items", [])]
    if timeseries:
        minutes = int(result.get("step_seconds", params["step_seconds"])) // 60
        grouped = "" if group_by is GroupBy.none else f"by {group_by.value} "
        title = f"{grouped}per {minutes} min (last {since})"
        cli.out.print(table(title, rows, TIMESERIES_COLUMNS))
    else:
        cli.out.print(table(f"summary by {group_by.value} (last {since})", rows, METRIC_COLUMNS))


def _step_seconds(step: str | None, window_s: int) -> int:
    if step is None:
        return max(1, math.ceil(window_s / 12 / 60)) * 60
    value = seconds(step, "--step")
    if value % 60:
        raise typer.BadParameter("must be whole minutes (the metrics have minute resolution)", param_hint="--step")
    return value
