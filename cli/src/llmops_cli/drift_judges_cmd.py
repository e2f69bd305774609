"""`llmops drift judges`: judge-drift monitors of the drift-detection service (docs/drift.md#judge-drift).

A monitor re-scores a pinned anchor set (an evaluation dataset version) with a pinned judge on a schedule, through
the evaluation service's offline runs, and reports when the judge's scores on it move. Exit codes as for `llmops
evals`: 0 success; 1 the service failed or could not be reached; 2 bad input (a 4xx from the service included).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from llmops_cli.context import cli_context
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, Json, print_json, request, service_client, table

__all__ = ["DEFAULT_DRIFT_DETECTION_URL", "judges_app"]

DEFAULT_DRIFT_DETECTION_URL = "http://127.0.0.1:8009"
COLUMNS = ("monitor", "app", "anchor set", "variant", "judge", "every", "min items", "min shift", "alpha", "baseline")

judges_app = typer.Typer(
    help="Judge-drift monitors: an anchor set re-scored by a pinned judge on a schedule (list, add, remove, check).",
    no_args_is_help=True,
)
DriftUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_DRIFT_DETECTION_URL",
        help=f"Drift-detection service base URL (default: that of a running `llmops up`, else "
        f"{DEFAULT_DRIFT_DETECTION_URL})",
        show_default=False,
    ),
]
MonitorId = Annotated[str, typer.Argument(help="The monitor's id (letters, digits, '_.-')")]


def _client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    return service_client(ctx, url, api_key, state_key="drift_detection_url", default=DEFAULT_DRIFT_DETECTION_URL,
                          what="the drift-detection service")  # fmt: skip


def _every(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _row(monitor: dict[str, Any]) -> dict[str, Any]:
    variant, judge = monitor["variant"], monitor["judge"]
    prompt = (
        f"{variant['prompt_name']}@{variant.get('prompt_version') or 'latest'} " if variant.get("prompt_name") else ""
    )
    model = judge.get("params", {}).get("model")
    return {
        "monitor": monitor["monitor_id"],
        "app": monitor["app"],
        "anchor set": f"{monitor['dataset']} v{monitor['dataset_version']}",
        "variant": f"{prompt}{variant.get('model') or ''}".strip(),
        "judge": f"{judge['name']} ({judge['kind']}{', ' + model if isinstance(model, str) else ''})",
        "every": _every(monitor["interval_s"]),
        "min items": monitor["min_items"],
        "min shift": monitor["min_shift"],
        "alpha": monitor["alpha"],
        "baseline": monitor.get("baseline_run_id") or "(first run)",
    }


@judges_app.command("list")
def list_monitors(
    ctx: typer.Context, drift_url: DriftUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """The tenant's judge monitors: anchor set, variant, judge, interval, thresholds and baseline run."""
    cli = cli_context(ctx)
    _, body = request(cli, _client(ctx, drift_url, api_key), "GET", "/v1/drift/judges")
    if json_output:
        print_json(cli, body)
        return
    rows = [_row(m) for m in body["items"]]
    cli.out.print(table(rows, COLUMNS) if rows else "no judge monitors")


@judges_app.command("add")
def add_monitor(
    ctx: typer.Context,
    monitor_id: MonitorId,
    app: Annotated[str, typer.Option(help="The application the judge serves (the drift report's and alert's app)")],
    dataset: Annotated[str, typer.Option(help="The anchor set: an evaluation dataset (`llmops evals datasets`)")],
    dataset_version: Annotated[int, typer.Option(min=1, help="Its version, pinned")],
    model: Annotated[str, typer.Option(help="The gateway route that answers the anchor items (deterministic)")],
    judge_name: Annotated[str, typer.Option(help="The judge evaluator's name in the runs")],
    judge_params: Annotated[str, typer.Option(help="The judge's parameters as a JSON object")],
    judge_kind: Annotated[str, typer.Option(help="The evaluator kind")] = "llm_judge",
    prompt_name: Annotated[str | None, typer.Option(help="A prompt of the registry renders the items")] = None,
    prompt_version: Annotated[int | None, typer.Option(min=1, help="That prompt's version")] = None,
    interval_s: Annotated[int, typer.Option(min=60, help="Seconds between checks")] = 86_400,
    min_items: Annotated[int, typer.Option(min=5, help="Fewer paired items: no verdict")] = 10,
    min_shift: Annotated[float, typer.Option(min=0.0, help="Smallest absolute mean shift called drift")] = 0.1,
    alpha: Annotated[float, typer.Option(min=0.0, max=0.5, help="The paired test's false-positive rate")] = 0.01,
    baseline_run: Annotated[str | None, typer.Option(help="Pin a completed run (default: the first run)")] = None,
    drift_url: DriftUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Create or replace a judge monitor."""
    cli = cli_context(ctx)
    try:
        params = json.loads(judge_params)
    except ValueError as exc:
        raise cli.fail(f"--judge-params is not JSON: {exc}", code=2) from exc
    if not isinstance(params, dict):
        raise cli.fail("--judge-params must be a JSON object", code=2)
    variant = {"model": model, "prompt_name": prompt_name, "prompt_version": prompt_version}
    body = {
        "app": app,
        "dataset": dataset,
        "dataset_version": dataset_version,
        "variant": {k: v for k, v in variant.items() if v is not None},
        "judge": {"name": judge_name, "kind": judge_kind, "params": params},
        "interval_s": interval_s,
        "min_items": min_items,
        "min_shift": min_shift,
        "alpha": alpha,
        "baseline_run_id": baseline_run,
    }
    status, monitor = request(cli, _client(ctx, drift_url, api_key), "PUT", f"/v1/drift/judges/{monitor_id}", json=body)
    if json_output:
        print_json(cli, monitor)
        return
    verb = "created" if status == 201 else "replaced"
    cli.out.print(f"judge monitor {monitor_id} {verb}", highlight=False, markup=False)
    cli.out.print(table([_row(monitor)], COLUMNS))


@judges_app.command("remove")
def remove_monitor(
    ctx: typer.Context, monitor_id: MonitorId, drift_url: DriftUrl = None, api_key: AdminKey = None
) -> None:
    """Remove a judge monitor (its reports stay in the warehouse)."""
    cli = cli_context(ctx)
    request(cli, _client(ctx, drift_url, api_key), "DELETE", f"/v1/drift/judges/{monitor_id}")
    cli.out.print(f"judge monitor {monitor_id} removed", highlight=False, markup=False)


@judges_app.command("check")
def check_monitor(
    ctx: typer.Context, monitor_id: MonitorId, drift_url: DriftUrl = None, api_key: AdminKey = None
) -> None:
    """Check a monitor now instead of at its next interval; its report follows on the drift reports."""
    cli = cli_context(ctx)
    _, body = request(cli, _client(ctx, drift_url, api_key), "POST", f"/v1/drift/judges/{monitor_id}/check")
    started = not isinstance(body, dict) or body.get("started", True)  # false: asked of the replica that owns it
    what = "check started" if started else "check asked of the replica that checks it (starts within a tick)"
    cli.out.print(f"judge monitor {monitor_id}: {what}", highlight=False, markup=False)
