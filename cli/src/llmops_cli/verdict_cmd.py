"""`llmops evals verdict EXPERIMENT`: an A/B experiment's verdict from the evaluation service, as tables.

One table per variant: each metric's test, both arms' sizes and means, the difference with its always-valid
interval, the effect size, both p-values and the metric's outcome; the primary metric's row is marked. Exit
codes as for the other `llmops evals` commands (0 done, 1 the service failed, 2 bad input or an unknown
experiment); ``--fail-on worse`` also exits 3 when a variant is worse, for a CI step or a script.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

from llmops_cli.context import cli_context
from llmops_cli.evals_cmd import EvaluationUrl, evaluation_client
from llmops_cli.prompts_cmd import AdminKey, Json, print_json, request, table

__all__ = ["print_verdict", "verdict"]

COLUMNS = ("metric", "test", "n control", "n variant", "control", "variant", "difference", "interval", "effect",
           "p", "p always-valid", "outcome")  # fmt: skip


class FailOn(StrEnum):
    worse = "worse"
    never = "never"


def _num(value: float | None, digits: int = 4) -> str | None:
    return None if value is None else f"{value:.{digits}g}"


def _row(metric: dict[str, Any], primary: str) -> dict[str, Any]:
    low, high = metric.get("sequential_low"), metric.get("sequential_high")
    return {
        "metric": f"{metric['metric']} *" if metric["metric"] == primary else metric["metric"],
        "test": metric["test"],
        "n control": metric["control"]["n"],
        "n variant": metric["variant"]["n"],
        "control": _num(metric["control"]["mean"]),
        "variant": _num(metric["variant"]["mean"]),
        "difference": _num(metric.get("difference")),
        "interval": None if low is None or high is None else f"[{low:.3g}, {high:.3g}]",
        "effect": None
        if metric.get("effect_size") is None
        else f"{metric['effect_size_name']} {metric['effect_size']:.3g}",
        "p": _num(metric.get("p_value"), 3),
        "p always-valid": _num(metric.get("sequential_p_value"), 3),
        "outcome": metric["outcome"],
    }


def verdict(
    ctx: typer.Context,
    experiment: Annotated[str, typer.Argument(help="The gateway experiment's id")],
    metric: Annotated[
        str | None, typer.Option(help="Primary metric (default: the experiment's, else error_rate)")
    ] = None,
    alpha: Annotated[float | None, typer.Option(min=0.0, max=0.5, help="False-positive rate")] = None,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 3 when a variant is worse")] = FailOn.never,
    evaluation_url: EvaluationUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """An A/B experiment's verdict: keep running, variant better, variant worse or no difference."""
    cli = cli_context(ctx)
    params = {k: v for k, v in {"metric": metric, "alpha": alpha}.items() if v is not None}
    client = evaluation_client(ctx, evaluation_url, api_key)
    _, body = request(cli, client, "GET", f"/v1/experiments/{experiment}/verdict", params=params)
    if json_output:
        print_json(cli, body)
    else:
        print_verdict(cli.out, body)
    if fail_on is FailOn.worse and any(v["verdict"] == "variant_worse" for v in body["variants"]):
        raise typer.Exit(3)


def print_verdict(out: Console, body: dict[str, Any]) -> None:
    """The verdict's head line, then one table per variant (also what `llmops up`'s demo prints)."""
    winner = f" ({body['winner']})" if body.get("winner") else ""
    head = f"[bold]{body['experiment_id']}[/bold] ({body['kind']}, {body['status']}): [bold]{body['verdict']}[/bold]"
    control = f"control {body['control']} ({body['control_calls']} calls)"
    out.print(f"{head}{winner} on {body['primary_metric']}, alpha {body['alpha']}, {control}")
    if body.get("truncated"):
        out.print("[yellow]read bound reached: the verdict saw the newest calls only[/yellow]")
    for variant in body["variants"]:
        out.print(f"\nvariant [bold]{variant['variant']}[/bold] ({variant['calls']} calls): {variant['verdict']}"
                  f" ({variant['reason']})", highlight=False)  # fmt: skip
        rows = [_row(m, body["primary_metric"]) for m in variant["metrics"]]
        out.print(table(rows, COLUMNS) if rows else "no metrics yet")
