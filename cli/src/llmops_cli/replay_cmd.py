"""`llmops evals replay`: re-score stored calls with new evaluators or versions (the evaluation service's replays).

``start`` sends the replay and, unless ``--detach``, follows it with a progress bar until it ends; ``status``
shows one (or follows it with ``--follow``); ``list`` shows the tenant's replays. Exit codes: 0 done; 1 the
service failed, was unreachable, or the replay failed; 2 bad input (a 4xx, with the service's reason).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llmops_cli.context import CliContext, cli_context
from llmops_cli.evals_cmd import DEFAULT_EVALUATION_URL, EvaluationUrl
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, Json, print_json, request, service_client, table

__all__ = ["replay_app"]

replay_app = typer.Typer(help="Re-score stored calls with new evaluators or versions: start, status, list.")

ReplayId = Annotated[str, typer.Argument(help="The replay's id")]
_POLL_S = 0.5


def _client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    return service_client(
        ctx, url, api_key, state_key="evaluation_url", default=DEFAULT_EVALUATION_URL, what="the evaluation service"
    )


def _evaluators(cli: CliContext, names: list[str], new: list[str]) -> list[dict[str, Any]]:
    """``--evaluator NAME`` (configured) and ``--new NAME:KIND[:PARAMS-JSON]`` as the API's choices."""
    chosen: list[dict[str, Any]] = [{"name": n} for n in names]
    for spec in new:
        name, _, rest = spec.partition(":")
        kind, _, params = rest.partition(":")
        if not name or not kind:
            raise cli.fail(f"--new {spec!r}: expected NAME:KIND or NAME:KIND:PARAMS-JSON", code=2)
        try:
            parsed = json.loads(params) if params else {}
        except ValueError as exc:
            raise cli.fail(f"--new {spec!r}: the parameters are not JSON: {exc}", code=2) from exc
        chosen.append({"name": name, "kind": kind, "params": parsed})
    if not chosen:
        raise cli.fail("name at least one --evaluator or --new", code=2)
    return chosen


def _ranges(cli: CliContext, partitions: list[str]) -> list[dict[str, int]]:
    """``--partition P:START[-END]`` as the API's offset ranges."""
    ranges = []
    for spec in partitions:
        try:
            partition, _, span = spec.partition(":")
            start, _, end = span.partition("-")
            ranges.append({"partition": int(partition), "start": int(start or 0), **({"end": int(end)} if end else {})})
        except ValueError as exc:
            raise cli.fail(f"--partition {spec!r}: expected P:START or P:START-END", code=2) from exc
    return ranges


@replay_app.command("start")
def start(
    ctx: typer.Context,
    evaluator: Annotated[list[str], typer.Option(help="A configured evaluator, as it is now (repeatable)")] = [],  # noqa: B006
    new: Annotated[list[str], typer.Option(help="A new evaluator NAME:KIND[:PARAMS-JSON] (repeatable)")] = [],  # noqa: B006
    since: Annotated[float, typer.Option(help="Warehouse: the calls of the last HOURS", metavar="HOURS")] = 24.0,
    start_at: Annotated[datetime | None, typer.Option("--start", help="Warehouse: from (UTC)")] = None,
    end_at: Annotated[datetime | None, typer.Option("--end", help="Warehouse: until (UTC)")] = None,
    partition: Annotated[list[str], typer.Option(help="Topic: P:START[-END] of llmops.calls.recorded")] = [],  # noqa: B006
    app: Annotated[str | None, typer.Option(help="Only this app's calls (warehouse)")] = None,
    replay_id: Annotated[str | None, typer.Option(help="The replay's id (default: a new one)")] = None,
    rate: Annotated[float | None, typer.Option(help="Calls per second (default: the service's)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Calls between two checkpoints")] = None,
    detach: Annotated[bool, typer.Option(help="Return once started, without following it")] = False,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Start a replay of stored calls (a time range from the warehouse, or topic offsets) and follow it."""
    cli = cli_context(ctx)
    end = _utc(end_at) if end_at else datetime.now(UTC)
    begin = _utc(start_at) if start_at else end - timedelta(hours=since)
    body: dict[str, Any] = {"evaluators": _evaluators(cli, evaluator, new), "replay_id": replay_id}
    if partition:
        body |= {"source": "topic", "ranges": _ranges(cli, partition)}
    else:
        body |= {"source": "warehouse", "start": begin.isoformat(), "end": end.isoformat(), "app": app}
    body |= {"rate_limit_per_s": rate, "batch_size": batch_size}
    client = _client(ctx, evaluation_url, api_key)
    _, state = request(cli, client, "POST", "/v1/replays", json={k: v for k, v in body.items() if v is not None})
    if not json_output:
        cli.out.print(f"replay {state['replay_id']} started", highlight=False, markup=False)
    if not detach:
        state = _follow(cli, client, state)
    _report(cli, state, json_output)


@replay_app.command("status")
def status(
    ctx: typer.Context,
    replay_id: ReplayId,
    follow: Annotated[bool, typer.Option(help="Show a progress bar until it ends")] = False,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """One replay's status and progress (calls read and judged, of how many where known)."""
    cli = cli_context(ctx)
    client = _client(ctx, evaluation_url, api_key)
    _, state = request(cli, client, "GET", f"/v1/replays/{replay_id}")
    if follow:
        state = _follow(cli, client, state)
    _report(cli, state, json_output)


@replay_app.command("list")
def list_replays(
    ctx: typer.Context, evaluation_url: EvaluationUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """The tenant's replays, newest first."""
    cli = cli_context(ctx)
    _, body = request(cli, _client(ctx, evaluation_url, api_key), "GET", "/v1/replays")
    if json_output:
        print_json(cli, body)
        return
    rows = [_row(s) for s in body["items"]]
    columns = ("replay_id", "status", "source", "evaluators", "processed", "scored", "expected", "updated_at")
    cli.out.print(table(rows, columns) if rows else "no replays")


def _follow(cli: CliContext, client: GatewayClient, state: dict[str, Any]) -> dict[str, Any]:
    """Poll the replay until it ends, with a progress bar of calls read (of ``expected`` where known)."""
    judged = TextColumn("{task.fields[scored]} judged")
    columns = (TextColumn("[bold]replaying"), BarColumn(), MofNCompleteColumn(), judged, TimeElapsedColumn())
    with Progress(*columns, console=cli.err) as progress:
        task = progress.add_task("replay", total=state.get("expected"), scored=0)
        while True:
            progress.update(task, completed=state["processed"], scored=state["scored"])
            if state["status"] != "running":
                return state
            time.sleep(_POLL_S)
            _, state = request(cli, client, "GET", f"/v1/replays/{state['replay_id']}")


def _report(cli: CliContext, state: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(cli, state)
    else:
        cli.out.print(table([_row(state)], ("replay_id", "status", "processed", "scored", "expected", "error")))
    if state["status"] == "failed":
        raise typer.Exit(1)


def _row(state: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: state.get(k) for k in ("replay_id", "status", "source", "processed", "scored", "expected", "error")},
        "evaluators": ", ".join(f"{e['name']}@{e['version']}" for e in state["evaluators"]),
        "updated_at": state["updated_at"],
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
