"""`llmops experiments`: A/B tests, canaries and shadow deployments on the inference gateway.

Exit codes as for `llmops prompts`: 0 success; 1 the gateway failed or could not be reached; 2 bad input
(including a 4xx from the gateway, e.g. 409 when another running experiment takes the same calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from llmops_cli.context import CliContext, cli_context
from llmops_cli.prompts_cmd import AdminKey, InferenceUrl, Json, gateway, print_json, read_definition, request, table

__all__ = ["experiments_app"]

experiments_app = typer.Typer(help="A/B tests, canaries and shadow deployments.", no_args_is_help=True)

ExperimentId = Annotated[str, typer.Argument(help="The experiment's id")]
ExpectedVersion = Annotated[
    int | None, typer.Option(min=1, help="Refuse the change if the experiment is no longer at this version")
]


def _weights(experiment: dict[str, Any]) -> str:
    return ", ".join(f"{v['name']} {v['weight']:g}" for v in experiment["variants"])


def _summary(cli: CliContext, experiment: dict[str, Any], verb: str) -> None:
    cli.out.print(
        f"{escape(experiment['experiment_id'])} {verb}: {experiment['status']}, version {experiment['version']}, "
        f"weights {escape(_weights(experiment))}",
        highlight=False,
    )


@experiments_app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML: id, kind, app, control, variants")],
    draft: Annotated[bool, typer.Option("--draft", help="Create it without starting it")] = False,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Create and start an experiment from a YAML file (see docs/prompts-and-experiments.md for the fields).

    ``kind`` is ``ab``, ``canary`` or ``shadow``; ``variants`` are ``{name, weight, model?, prompt?: {name,
    version}, parameters?}`` with weights summing to 1; ``control`` names the baseline variant.
    """
    cli = cli_context(ctx)
    body = read_definition(cli, file)
    if "id" in body and "experiment_id" not in body:
        body["experiment_id"] = body.pop("id")
    if draft:
        body["start"] = False
    _, experiment = request(cli, gateway(ctx, inference_url, api_key), "POST", "/v1/experiments", json=body)
    if json_output:
        print_json(cli, experiment)
        return
    _summary(cli, experiment, "created")


@experiments_app.command("list")
def list_experiments(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only draft, running, paused or completed ones")] = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """The tenant's experiments: kind, status, app, version and weights."""
    cli = cli_context(ctx)
    params = {"status": status} if status else {}
    _, body = request(cli, gateway(ctx, inference_url, api_key), "GET", "/v1/experiments", params=params)
    if json_output:
        print_json(cli, body)
        return
    rows = [
        {
            "id": e["experiment_id"],
            "kind": e["kind"],
            "status": e["status"],
            "app": e["app"],
            "version": e["version"],
            "weights": _weights(e),
        }
        for e in body["items"]
    ]
    cli.out.print(table(rows, ("id", "kind", "status", "app", "version", "weights")) if rows else "no experiments")


@experiments_app.command("show")
def show(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """One experiment: its definition, status and variants."""
    cli = cli_context(ctx)
    _, experiment = request(cli, gateway(ctx, inference_url, api_key), "GET", f"/v1/experiments/{experiment_id}")
    if json_output:
        print_json(cli, experiment)
        return
    cli.out.print(
        f"[bold]{escape(experiment['experiment_id'])}[/bold] ({escape(experiment['name'])}): {experiment['kind']} "
        f"on app {escape(experiment['app'])}, {experiment['status']}, version {experiment['version']}"
    )
    rows = [
        {
            "variant": v["name"] + (" (control)" if v["name"] == experiment["control"] else ""),
            "weight": v["weight"],
            "model": v.get("model"),
            "prompt": f"{v['prompt']['name']} v{v['prompt']['version']}" if v.get("prompt") else None,
        }
        for v in experiment["variants"]
    ]
    cli.out.print(table(rows, ("variant", "weight", "model", "prompt")))


@experiments_app.command("set-weights")
def set_weights(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    weights: Annotated[
        list[str] | None, typer.Argument(help="variant=weight pairs; the control's may be left out (it gets the rest)")
    ] = None,
    canary: Annotated[float | None, typer.Option(min=0, max=1, help="Canary only: the candidate's share")] = None,
    expected_version: ExpectedVersion = None,
    inference_url: InferenceUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Change the split: `set-weights exp-1 full=0.3 local=0.1`, or raise a canary: `set-weights c-1 --canary 0.25`."""
    cli = cli_context(ctx)
    if bool(weights) == (canary is not None):
        raise typer.BadParameter("give variant=weight pairs or --canary, one of the two")
    body: dict[str, Any] = {"canary_weight": canary} if canary is not None else {"weights": _pairs(weights or [])}
    if expected_version is not None:
        body["expected_version"] = expected_version
    path = f"/v1/experiments/{experiment_id}"
    _, experiment = request(cli, gateway(ctx, inference_url, api_key), "PATCH", path, json=body)
    _summary(cli, experiment, "changed")


def _pairs(pairs: list[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        try:
            weights[name] = float(raw)
        except ValueError:
            raise typer.BadParameter(f"{pair!r} is not variant=weight", param_hint="WEIGHTS") from None
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not variant=weight", param_hint="WEIGHTS")
    return weights


def _set_status(ctx: typer.Context, experiment_id: str, status: str, url: str | None, key: str | None) -> None:
    cli = cli_context(ctx)
    path = f"/v1/experiments/{experiment_id}"
    _, experiment = request(cli, gateway(ctx, url, key), "PATCH", path, json={"status": status})
    _summary(cli, experiment, "paused" if status == "paused" else "started")


@experiments_app.command("pause")
def pause(
    ctx: typer.Context, experiment_id: ExperimentId, inference_url: InferenceUrl = None, api_key: AdminKey = None
) -> None:
    """Pause: calls go where they would without the experiment until it is resumed."""
    _set_status(ctx, experiment_id, "paused", inference_url, api_key)


@experiments_app.command("resume")
def resume(
    ctx: typer.Context, experiment_id: ExperimentId, inference_url: InferenceUrl = None, api_key: AdminKey = None
) -> None:
    """Start a draft, or resume a paused experiment."""
    _set_status(ctx, experiment_id, "running", inference_url, api_key)


@experiments_app.command("stop")
def stop(
    ctx: typer.Context, experiment_id: ExperimentId, inference_url: InferenceUrl = None, api_key: AdminKey = None
) -> None:
    """Stop for good: no call is assigned to it any more (audited)."""
    cli = cli_context(ctx)
    path = f"/v1/experiments/{experiment_id}/stop"
    _, experiment = request(cli, gateway(ctx, inference_url, api_key), "POST", path)
    _summary(cli, experiment, "stopped")
