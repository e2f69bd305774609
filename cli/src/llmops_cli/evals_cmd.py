"""`llmops evals`: the evaluators that score a tenant's recorded calls (the evaluation service's API).

Exit codes as for `llmops prompts`: 0 success; 1 the service failed or could not be reached; 2 bad input
(including a 4xx from the service, e.g. 422 for parameters the evaluator kind does not take).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from llmops_cli.context import cli_context
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, Json, print_json, request, service_client, table

__all__ = ["DEFAULT_EVALUATION_URL", "EvaluationUrl", "evals_app", "evaluation_client"]

DEFAULT_EVALUATION_URL = "http://127.0.0.1:8005"

evals_app = typer.Typer(
    help="Evaluators that score recorded calls (list, set, delete); datasets and offline runs (datasets, run, "
    "compare, gate, bias).",
    no_args_is_help=True,
)

EvaluationUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_EVALUATION_URL",
        help=f"Evaluation service base URL (default: that of a running `llmops up`, else {DEFAULT_EVALUATION_URL})",
        show_default=False,
    ),
]
Name = Annotated[str, typer.Argument(help="The evaluator's name (letters, digits, '_.-')")]


def evaluation_client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    return service_client(
        ctx, url, api_key, state_key="evaluation_url", default=DEFAULT_EVALUATION_URL, what="the evaluation service"
    )


def _row(view: dict[str, Any]) -> dict[str, Any]:
    config = view["config"]
    scope = " ".join(f"{k}={config[k]}" for k in ("prompt_name", "model") if config.get(k))
    return {
        "name": config["name"],
        "kind": config["kind"],
        "version": view["version"],
        "app": config["app"],
        "scope": scope or None,
        "sampling": config["sampling_rate"],
        "enabled": "yes" if config["enabled"] else "no",
        "params": json.dumps(config["params"], sort_keys=True) if config["params"] else None,
    }


@evals_app.command("list")
def list_evaluators(
    ctx: typer.Context,
    app: Annotated[str | None, typer.Option(help="Only this app's evaluators")] = None,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """The tenant's evaluators: kind, version, app, scope, sampling rate and parameters."""
    cli = cli_context(ctx)
    params = {"app": app} if app else {}
    _, body = request(cli, evaluation_client(ctx, evaluation_url, api_key), "GET", "/v1/evaluators", params=params)
    if json_output:
        print_json(cli, body)
        return
    rows = [_row(v) for v in body["items"]]
    columns = ("name", "kind", "version", "app", "scope", "sampling", "enabled", "params")
    cli.out.print(table(rows, columns) if rows else "no evaluators")


@evals_app.command("set")
def set_evaluator(
    ctx: typer.Context,
    name: Name,
    kind: Annotated[str, typer.Option(help="length, json, regex, refusal, banned_terms or secrets")],
    app: Annotated[str, typer.Option(help="The app whose calls it scores")],
    params: Annotated[str, typer.Option(help="The kind's parameters as a JSON object")] = "{}",
    prompt_name: Annotated[str | None, typer.Option(help="Only calls rendered from this prompt")] = None,
    model: Annotated[str | None, typer.Option(help="Only calls to this model")] = None,
    sampling_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of calls scored")] = 1.0,
    include_platform: Annotated[bool, typer.Option(help="Also score the platform's own calls")] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Keep it configured but paused")] = False,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Create or replace an evaluator (changing its parameters makes a new version)."""
    cli = cli_context(ctx)
    try:
        parsed = json.loads(params)
    except ValueError as exc:
        raise cli.fail(f"--params is not JSON: {exc}", code=2) from exc
    if not isinstance(parsed, dict):
        raise cli.fail("--params must be a JSON object", code=2)
    body = {
        "kind": kind,
        "app": app,
        "params": parsed,
        "prompt_name": prompt_name,
        "model": model,
        "sampling_rate": sampling_rate,
        "include_platform": include_platform,
        "enabled": not disabled,
    }
    client = evaluation_client(ctx, evaluation_url, api_key)
    status, view = request(cli, client, "PUT", f"/v1/evaluators/{name}", json=body)
    if json_output:
        print_json(cli, view)
        return
    verb = "created" if status == 201 else "updated"
    cli.out.print(f"{name} {verb}: {kind} on app {app}, version {view['version']}", highlight=False, markup=False)


@evals_app.command("delete")
def delete_evaluator(
    ctx: typer.Context, name: Name, evaluation_url: EvaluationUrl = None, api_key: AdminKey = None
) -> None:
    """Stop scoring with an evaluator (its past scores stay in the warehouse)."""
    cli = cli_context(ctx)
    request(cli, evaluation_client(ctx, evaluation_url, api_key), "DELETE", f"/v1/evaluators/{name}")
    cli.out.print(f"{name} deleted", highlight=False, markup=False)
