"""`llmops`: run the platform locally, send calls, and look at calls and metrics from the terminal.

Exit codes: 0 success; 1 the platform failed or could not be reached; 2 bad input (a usage error, a file
line that is not a JSON object, or records ingest rejected).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from llmops_cli.alerts_cmd import alerts_app, objectives_app
from llmops_cli.audit_cmd import audit_app
from llmops_cli.context import cli_context
from llmops_cli.cost_cmd import budgets_app, cost_app
from llmops_cli.drift_cmd import drift_app
from llmops_cli.erase_cmd import erase
from llmops_cli.evals_cmd import evals_app
from llmops_cli.experiments_cmd import experiments_app
from llmops_cli.feedback_cmd import feedback_app
from llmops_cli.kafka_cmd import kafka_app
from llmops_cli.keys import keys_app
from llmops_cli.options import ApiKey, IngestUrl
from llmops_cli.pii_cmd import pii_app
from llmops_cli.policies_cmd import policies_app
from llmops_cli.prompts_cmd import prompts_app
from llmops_cli.query import calls, metrics
from llmops_cli.render import format_errors
from llmops_cli.replay_cmd import replay_app
from llmops_cli.runs_cmd import register as register_run_commands
from llmops_cli.sending import JsonlError, SendError, read_jsonl, send_records
from llmops_cli.verdict_cmd import verdict

app = typer.Typer(help="The LLMOps platform command line.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(policies_app, name="policies")
app.add_typer(prompts_app, name="prompts")
app.add_typer(experiments_app, name="experiments")
register_run_commands(evals_app)
app.add_typer(evals_app, name="evals")
app.add_typer(feedback_app, name="feedback")
app.add_typer(cost_app, name="cost")
app.add_typer(budgets_app, name="budgets")
evals_app.command("verdict")(verdict)
evals_app.add_typer(replay_app, name="replay")
app.add_typer(kafka_app, name="kafka")
app.add_typer(pii_app, name="pii")
app.add_typer(alerts_app, name="alerts")
app.add_typer(objectives_app, name="objectives")
app.add_typer(audit_app, name="audit")
app.add_typer(drift_app, name="drift")
app.command()(calls)
app.command()(metrics)
app.command()(erase)

MAX_LISTED = 20


@app.command()
def send(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines, one call record per line")],
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="Records per request")] = 500,
    ingest_url: IngestUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Send call records from a JSON Lines file to ingest, in batches, with a progress bar.

    Every line is checked to be a JSON object first; if one is not, nothing is sent. Records ingest
    rejects are listed with their line numbers, and the exit code is then 2.
    """
    cli = cli_context(ctx)
    try:
        numbers, records = read_jsonl(file)
    except JsonlError as exc:
        failure = cli.fail(f"{exc}; nothing was sent", code=2)
        for number, reason in exc.problems[:MAX_LISTED]:
            cli.err.print(f"  line {number}: {escape(reason)}", highlight=False)
        raise failure from exc
    if not records:
        cli.out.print(f"{file}: no records, nothing to send")
        return
    with cli.client(ingest_url, None, api_key) as client:
        try:
            result = send_records(client, records, batch_size, console=cli.err, line_numbers=numbers)
        except SendError as exc:
            sent = f"{exc.sent.accepted:,} accepted and {len(exc.sent.rejected):,} rejected before it"
            raise cli.fail(f"{exc} ({sent}; nothing sent from line {exc.first_unsent_line} on)") from exc
    cli.out.print(f"[green]{result.accepted:,} accepted[/green], [red]{len(result.rejected):,} rejected[/red]")
    for rejection in result.rejected[:MAX_LISTED]:
        cli.out.print(f"  line {rejection.line}: {escape(format_errors(rejection.errors))}", highlight=False)
    if len(result.rejected) > MAX_LISTED:
        cli.out.print(f"  ... and {len(result.rejected) - MAX_LISTED:,} more")
    if result.rejected:
        raise typer.Exit(2)


@app.command("demo-calls")
def demo_calls_command(
    count: Annotated[int, typer.Argument(min=1, max=1_000_000)] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same records (timestamps aside)")] = 7,
) -> None:
    """Write realistic demo call records (started in the last 30 minutes) as JSON Lines to stdout."""
    from llmops_cli.demo import demo_calls

    for record in demo_calls(count, seed=seed):
        typer.echo(json.dumps(record))


@app.command()
def up(
    ctx: typer.Context,
    demo_calls: Annotated[int, typer.Option(min=0, help="Demo calls to send once started (0: none)")] = 500,
    once: Annotated[
        bool, typer.Option("--once", help="Start, send the demo, print the tour, then stop everything and exit")
    ] = False,
    detach: Annotated[bool, typer.Option("--detach", hidden=True, help="Old name of --once")] = False,
    kafka_port: Annotated[int, typer.Option(envvar="LLMOPS_KAFKA_PORT", min=1, max=65535)] = 9092,
    kafka_controller_port: Annotated[int, typer.Option(envvar="LLMOPS_KAFKA_CONTROLLER_PORT", min=1, max=65535)] = 9093,
    ingest_port: Annotated[int, typer.Option(envvar="LLMOPS_INGEST_PORT", min=1, max=65535)] = 8001,
    warehouse_port: Annotated[int, typer.Option(envvar="LLMOPS_WAREHOUSE_PORT", min=1, max=65535)] = 8002,
    model_server_port: Annotated[
        int,
        typer.Option(
            envvar="LLMOPS_MODEL_SERVER_PORT", min=1, max=65533, help="Model server HTTP; gRPC and metrics use +1, +2"
        ),
    ] = 8100,
    inference_port: Annotated[int, typer.Option(envvar="LLMOPS_INFERENCE_PORT", min=1, max=65535)] = 8003,
    demo_upstream_port: Annotated[
        int,
        typer.Option(
            envvar="LLMOPS_DEMO_UPSTREAM_PORT", min=1, max=65535, help="The scripted tool-calling model (demo-tools)"
        ),
    ] = 8004,
    feedback_port: Annotated[int, typer.Option(envvar="LLMOPS_FEEDBACK_PORT", min=1, max=65535)] = 8006,
    evaluation_port: Annotated[int, typer.Option(envvar="LLMOPS_EVALUATION_PORT", min=1, max=65535)] = 8005,
    cost_port: Annotated[int, typer.Option(envvar="LLMOPS_COST_PORT", min=1, max=65535)] = 8008,
    drift_detection_port: Annotated[int, typer.Option(envvar="LLMOPS_DRIFT_DETECTION_PORT", min=1, max=65535)] = 8009,
    alerting_port: Annotated[int, typer.Option(envvar="LLMOPS_ALERTING_PORT", min=1, max=65535)] = 8010,
    governance_audit_port: Annotated[int, typer.Option(envvar="LLMOPS_GOVERNANCE_AUDIT_PORT", min=1, max=65535)] = 8007,
) -> None:
    """Start Kafka, ingest, the warehouse (embedded ClickHouse), the model server, a scripted tool-calling demo
    upstream and the inference gateway, send a demo workload (recorded calls, then chat completions through the
    gateway, one of them a tool-calling round trip); Ctrl-C stops all.

    State (Kafka's log, ClickHouse's data, development keys) lives in LLMOPS_DATA_DIR (default ./.data)
    and is reused by the next `llmops up`.
    """
    from llmops_cli.config import data_dir
    from llmops_cli.platform import PlatformPorts
    from llmops_cli.up import run_up

    cli = cli_context(ctx)
    if detach:
        cli.err.print("note: --detach is now --once (it never left anything running)", highlight=False)
    ports = PlatformPorts(
        kafka=kafka_port,
        kafka_controller=kafka_controller_port,
        ingest=ingest_port,
        warehouse=warehouse_port,
        model_server=model_server_port,
        inference=inference_port,
        demo_upstream=demo_upstream_port,
        feedback=feedback_port,
        evaluation=evaluation_port,
        cost=cost_port,
        drift_detection=drift_detection_port,
        alerting=alerting_port,
        governance_audit=governance_audit_port,
    )
    raise typer.Exit(run_up(data_dir(), ports=ports, demo_calls=demo_calls, once=once or detach, console=cli.out))


if __name__ == "__main__":
    app()
