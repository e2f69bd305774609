"""`llmops evals datasets ...`, `llmops evals run`, `compare`, `gate` and `bias`: offline runs of the evaluation
service (docs/evaluation.md#datasets-and-offline-runs).

Exit codes as for `llmops evals` (0 success; 1 the service failed or could not be reached; 2 bad input or a 4xx),
except `llmops evals gate`, which CI reads:

* 0: the candidate passed (no metric of the evaluator dropped by more than ``--max-drop``: its pass rate, or its
  mean score where the metric has no pass/fail);
* 1: a regression (a metric dropped by more, or the candidate lacks a metric the baseline has);
* 2: bad input (an unknown run or evaluator, a 4xx from the service);
* 3: undecided (the service failed or was unreachable, or a run's scores were not all stored within ``--wait``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llmops_cli.client import ApiError
from llmops_cli.context import CliContext, cli_context
from llmops_cli.evals_cmd import EvaluationUrl, evaluation_client
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, Json, fail, print_json, request, table

__all__ = ["GATE_ERROR", "GATE_PASSED", "GATE_REGRESSION", "GATE_UNDECIDED", "register"]

GATE_PASSED, GATE_REGRESSION, GATE_ERROR, GATE_UNDECIDED = 0, 1, 2, 3
_POLL_S = 1.0

datasets_app = typer.Typer(help="Evaluation datasets: upload (JSONL), list, show.", no_args_is_help=True)
Wait = Annotated[float, typer.Option(help="Seconds to wait for runs to finish and their scores to be stored")]


def _split(ref: str) -> tuple[str, int | None]:
    name, _, version = ref.partition("@")
    if version and not version.isdigit():
        raise typer.BadParameter(f"{ref!r}: the version after '@' is a number")
    return name, int(version) if version else None


@datasets_app.command("upload")
def upload(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The dataset's name; an upload of an existing name is a new version")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL: one example per line")],
    description: Annotated[str | None, typer.Option(help="What this version is")] = None,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Upload a JSONL file as a new version; lines that are not valid are listed and the others imported."""
    cli = cli_context(ctx)
    params = {"description": description} if description else {}
    headers = {"Content-Type": "application/x-ndjson"}
    client = evaluation_client(ctx, evaluation_url, api_key)
    _, body = request(cli, client, "POST", f"/v1/datasets/{name}", content=file.read_bytes(), params=params,
                      headers=headers)  # fmt: skip
    if json_output:
        print_json(cli, body)
        return
    dataset = body["dataset"]
    cli.out.print(f"{name}@{dataset['version']}: {body['imported']} examples imported, {body['refused']} refused "
                  f"(digest {dataset['digest'][:12]})", highlight=False, markup=False)  # fmt: skip
    for error in body["errors"]:
        cli.err.print(f"line {error['line']}: {error['error']}", highlight=False, markup=False)


@datasets_app.command("list")
def list_datasets(
    ctx: typer.Context, evaluation_url: EvaluationUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """Each dataset with its latest version."""
    cli = cli_context(ctx)
    _, body = request(cli, evaluation_client(ctx, evaluation_url, api_key), "GET", "/v1/datasets")
    if json_output:
        print_json(cli, body)
        return
    rows = [{**d, "digest": d["digest"][:12]} for d in body["items"]]
    columns = ("name", "version", "examples", "source", "digest", "created_at")
    cli.out.print(table(rows, columns) if rows else "no datasets")


@datasets_app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    limit: Annotated[int, typer.Option(min=0, max=1000, help="Examples shown")] = 20,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """One version's manifest and its first examples."""
    cli = cli_context(ctx)
    name, version = _split(ref)
    params: dict[str, Any] = {"limit": limit, **({"version": version} if version else {})}
    client = evaluation_client(ctx, evaluation_url, api_key)
    _, body = request(cli, client, "GET", f"/v1/datasets/{name}", params=params)
    if json_output:
        print_json(cli, body)
        return
    d = body["dataset"]
    cli.out.print(f"{d['name']}@{d['version']}: {d['examples']} examples from {d['source']}, digest {d['digest']}",
                  highlight=False, markup=False)  # fmt: skip
    rows = [{**e, "input": e["input"][:80], "expected": (e.get("expected") or "")[:60]} for e in body["examples"]]
    cli.out.print(table(rows, ("example_id", "input", "expected", "pair_group", "pair_label")))


def _follow(cli: CliContext, client: GatewayClient, run: dict[str, Any]) -> dict[str, Any]:
    """Poll the run's progress until it is no longer running, showing a progress bar."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=cli.err, transient=False) as progress:
        task = progress.add_task(run["run_id"], total=run["total"], completed=run["completed"])
        while run["status"] == "running":
            time.sleep(_POLL_S)
            _, run = request(cli, client, "GET", f"/v1/runs/{run['run_id']}")
            progress.update(task, completed=run["completed"], description=f"{run['run_id']} ({run['failed']} failed)")
    return run


def run(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="NAME or NAME@VERSION (default: the latest version)")],
    evaluator: Annotated[list[str], typer.Option(help="A configured evaluator's name (repeat for more)")],
    prompt: Annotated[
        str | None, typer.Option(help="NAME@VERSION (or NAME: its latest) of the prompt registry")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The model (the prompt version's when left out)")] = None,
    param: Annotated[list[str] | None, typer.Option(help="A request parameter KEY=JSON (repeat for more)")] = None,
    input_variable: Annotated[str, typer.Option(help="The prompt variable each example's input fills")] = "input",
    detach: Annotated[bool, typer.Option("--detach", help="Start it and print its id without waiting")] = False,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Run a dataset version with a prompt version and/or model through the gateway and score each answer."""
    cli = cli_context(ctx)
    name, version = _split(dataset)
    variant: dict[str, Any] = {"model": model, "input_variable": input_variable, "parameters": _params(param or [])}
    if prompt:
        variant["prompt_name"], variant["prompt_version"] = _split(prompt)
    spec = {"dataset": name, "dataset_version": version, "variant": variant, "evaluators": evaluator}
    client = evaluation_client(ctx, evaluation_url, api_key)
    _, started = request(cli, client, "POST", "/v1/runs", json=spec)
    final = started if detach else _follow(cli, client, started)
    if json_output:
        print_json(cli, final)
        return
    cli.out.print(f"{final['run_id']} {final['status']}: {final['completed']}/{final['total']} examples, "
                  f"{final['failed']} failed", highlight=False, markup=False)  # fmt: skip
    if final["status"] == "failed":
        raise cli.fail(f"the run failed: {final.get('error')}", code=1)


def _params(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a value that parses as JSON is that JSON (``temperature=0`` is the number 0)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE")
        try:
            found[key] = json.loads(value)
        except ValueError:
            found[key] = value
    return found


def _waiting(cli: CliContext, client: GatewayClient, path: str, params: dict[str, Any], wait_s: float) -> Any:
    """GET ``path``, retried while a run is still running (409) or its scores are being stored (503)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return client.call("GET", path, params=params)[1]
        except ApiError as exc:
            if exc.status_code not in (409, 503) or time.monotonic() >= deadline:
                raise
            time.sleep(_POLL_S)


def _read(cli: CliContext, client: GatewayClient, path: str, params: dict[str, Any], wait_s: float) -> Any:
    """:func:`_waiting`, ending the command as `llmops evals` does when it fails (1; 2 for a 4xx)."""
    try:
        return _waiting(cli, client, path, params, wait_s)
    except ApiError as exc:
        fail(cli, exc)


def _metric_rows(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "evaluator": m["evaluator"],
            "metric": m["metric"],
            "n": f"{m['baseline']['n']}/{m['candidate']['n']}",
            "baseline": _num(m["baseline"]["mean"]),
            "candidate": _num(m["candidate"]["mean"]),
            "delta": None if m["delta"] is None else f"{m['delta']:+.4f}",
            "interval": f"[{m['low']:+.4f}, {m['high']:+.4f}]" if m["low"] is not None else None,
            "pass rate": f"{_num(m['baseline']['pass_rate'])} -> {_num(m['candidate']['pass_rate'])}",
        }
        for m in metrics
    ]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def compare(
    ctx: typer.Context,
    baseline: Annotated[str, typer.Argument(help="The baseline run's id")],
    candidate: Annotated[str, typer.Argument(help="The candidate run's id")],
    examples: Annotated[int, typer.Option(min=0, max=10_000, help="Per-example rows shown")] = 20,
    wait: Wait = 120.0,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Two runs side by side: per evaluator metric (means, pass rates, delta with its 95% t interval), then per
    example."""
    cli = cli_context(ctx)
    client = evaluation_client(ctx, evaluation_url, api_key)
    params = {"baseline": baseline, "candidate": candidate, "examples": examples}
    body = _read(cli, client, "/v1/runs/compare", params, wait)
    if json_output:
        print_json(cli, body)
        return
    columns = ("evaluator", "metric", "n", "baseline", "candidate", "delta", "interval", "pass rate")
    cli.out.print(table(_metric_rows(body["metrics"]), columns))
    if body["examples"]:
        cli.out.print(table(body["examples"], ("example_id", "evaluator", "metric", "baseline", "candidate")))


def gate(
    ctx: typer.Context,
    baseline: Annotated[str, typer.Option(help="The baseline run's id")],
    candidate: Annotated[str, typer.Option(help="The candidate run's id")],
    evaluator: Annotated[str, typer.Option(help="The evaluator whose metrics are gated")],
    max_drop: Annotated[
        float, typer.Option(min=0.0, help="Largest allowed drop of a metric's pass rate (its mean if it has none)")
    ],
    wait: Wait = 120.0,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Exit 0 when the candidate passes, 1 on a regression, 2 on bad input, 3 when it could not be decided."""
    cli = cli_context(ctx)
    client = evaluation_client(ctx, evaluation_url, api_key)
    params = {"baseline": baseline, "candidate": candidate, "evaluator": evaluator, "max_drop": max_drop}
    try:
        verdict = _waiting(cli, client, "/v1/runs/gate", params, wait)
    except ApiError as exc:
        bad = exc.status_code is not None and 400 <= exc.status_code < 500 and exc.status_code != 409
        raise cli.fail(str(exc), code=GATE_ERROR if bad else GATE_UNDECIDED) from exc
    if json_output:
        print_json(cli, verdict)
    else:
        columns = ("evaluator", "metric", "n", "baseline", "candidate", "delta", "interval", "pass rate")
        cli.out.print(table(_metric_rows(verdict["metrics"]), columns))
        word = "passed" if verdict["passed"] else "REGRESSION"
        cli.out.print(f"gate {word}: {evaluator}, max drop {max_drop:g}", highlight=False, markup=False)
    raise typer.Exit(GATE_PASSED if verdict["passed"] else GATE_REGRESSION)


def bias(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id")],
    wait: Wait = 120.0,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """The score gap within the dataset's counterfactual pair groups: mean absolute gap and the worst pair."""
    cli = cli_context(ctx)
    client = evaluation_client(ctx, evaluation_url, api_key)
    body = _read(cli, client, f"/v1/runs/{run_id}/bias", {}, wait)
    if json_output:
        print_json(cli, body)
        return
    rows = [{**g, "mean_abs_gap": _num(g["mean_abs_gap"]), "worst_gap": _num(g["worst_gap"]),
             "worst_labels": " vs ".join(g["worst_labels"])} for g in body["gaps"]]  # fmt: skip
    columns = ("evaluator", "metric", "groups", "mean_abs_gap", "worst_group", "worst_gap", "worst_labels")
    cli.out.print(table(rows, columns) if rows else "no counterfactual pair group was scored twice")


def register(evals: typer.Typer) -> None:
    """Add the dataset and run commands to `llmops evals`."""
    evals.add_typer(datasets_app, name="datasets")
    for command in (run, compare, gate, bias):
        evals.command(command.__name__)(command)
