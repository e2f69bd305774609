"""`llmops drift check`: compare two JSON Lines files with the drift engine the drift-detection service runs.

Every field of a record is a feature; its kind (numeric, categorical, text, embedding) is inferred from the values
and can be set with ``--feature NAME=KIND``. Exported call records are flattened first (docs/drift.md has the
rule). Exit codes: 0 the check ran (drift or not; ``--fail-on-drift`` makes drift exit 3), 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from llmops_cli.context import CliContext, cli_context
from llmops_cli.drift_judges_cmd import judges_app
from llmops_cli.prompts_cmd import print_json, table
from llmops_cli.sending import JsonlError, read_jsonl

if TYPE_CHECKING:
    from llmops_drift import Kind

__all__ = ["drift_app"]

drift_app = typer.Typer(help="Drift checks with the platform's drift engine (docs/drift.md).", no_args_is_help=True)
drift_app.add_typer(judges_app, name="judges")

MAX_ROWS = 1_000_000
"""The most records checked from one file (the engine samples text and embeddings further, docs/drift.md)."""
MAX_BYTES = 1 << 30
"""The largest file read: checked before reading, so a huge file is refused rather than exhausting memory."""
COLUMNS = ("feature", "kind", "test", "statistic", "p adjusted", "effect", "drift", "notes")
DataFile = Annotated[Path, typer.Option(exists=True, dir_okay=False, help="JSON Lines, one flat record per line")]


def _kinds(cli: CliContext, specs: list[str]) -> dict[str, Kind]:
    from llmops_drift import Kind

    kinds = {}
    for spec in specs:
        name, _, kind = spec.partition("=")
        if not name or kind not in set(Kind):
            allowed = ", ".join(k.value for k in Kind)
            raise cli.fail(f"--feature {spec!r}: expected NAME=KIND with KIND one of {allowed}", code=2)
        kinds[name] = Kind(kind)
    return kinds


def _nested(numbers: list[int], records: list[dict[str, Any]]) -> tuple[int, str] | None:
    """The first line and field of a flat record whose value is an object (call records are flattened)."""
    from llmops_drift import is_call_record

    for number, record in zip(numbers, records, strict=True):
        found = next((name for name, value in record.items() if isinstance(value, dict)), None)
        if found is not None and not is_call_record(record):
            return number, found
    return None


def _columns(cli: CliContext, path: Path) -> dict[str, list[object]]:
    from llmops_drift import columns_of

    size = path.stat().st_size
    if size == 0:
        raise cli.fail(f"{path}: empty file", code=2)
    if size > MAX_BYTES:
        raise cli.fail(f"{path}: {size:,} bytes, at most {MAX_BYTES:,} are read; sample the file", code=2)
    try:
        numbers, records = read_jsonl(path)
    except JsonlError as exc:
        raise cli.fail(str(exc), code=2) from exc
    if len(records) > MAX_ROWS:
        raise cli.fail(f"{path}: {len(records):,} records, at most {MAX_ROWS:,} are checked; sample the file", code=2)
    if (found := _nested(numbers, records)) is not None:
        raise cli.fail(f"{path}: line {found[0]}: field {found[1]!r} is an object; records must be flat", code=2)
    return columns_of(records)


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.4g}"


def _print_table(out: Console, body: dict[str, Any]) -> None:
    verdict = {True: "[red]drift[/red]", False: "[green]no drift[/green]", None: "no verdict"}[body["dataset_drift"]]
    reason = f" ({escape(body['reason'])})" if body.get("reason") else ""
    out.print(f"dataset: {verdict}{reason}; features drifted: {', '.join(body['drifted_features']) or 'none'}")
    rows = [
        {
            "feature": name,
            "kind": f["kind"],
            "test": f["test"],
            "statistic": _num(f["statistic"]),
            "p adjusted": _num(f["p_value_adjusted"]),
            "effect": None if f["effect"]["value"] is None else f"{f['effect']['measure']} {f['effect']['value']:.3g}",
            "drift": f["drift"],
            "notes": "; ".join(f["notes"]) or None,
        }
        for name, f in body["features"].items()
    ]
    out.print(table(rows, COLUMNS))
    out.print(f"[dim]{escape(body['rule'])} (fdr {body['fdr']})[/dim]")


@drift_app.command("check")
def check_files(
    ctx: typer.Context,
    reference: DataFile,
    current: DataFile,
    feature: Annotated[list[str] | None, typer.Option(help="NAME=KIND: set a feature's kind (repeatable)")] = None,
    fdr: Annotated[float, typer.Option(min=1e-9, max=0.5, help="False discovery rate across features")] = 0.01,
    topics: Annotated[
        int, typer.Option(min=0, max=50, help="Also compare each text feature's topic mix (k topics; 0: off)")
    ] = 0,
    fail_on_drift: Annotated[bool, typer.Option(help="Exit 3 when the dataset drifted")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Did CURRENT drift from REFERENCE? Per feature its kind's test; the dataset verdict over all of them."""
    from llmops_drift import DriftConfig, check  # scipy and scikit-learn: seconds no other command should pay

    cli = cli_context(ctx)
    kinds = _kinds(cli, feature or [])
    try:
        report = check(_columns(cli, reference), _columns(cli, current), kinds, DriftConfig(fdr=fdr, topics=topics))
    except ValueError as exc:  # values that cannot be the kind given (embeddings of two sizes, ...)
        raise cli.fail(str(exc), code=2) from exc
    body = report.as_json()
    if json_output:
        print_json(cli, body)
    else:
        _print_table(cli.out, body)
    if fail_on_drift and report.dataset_drift:
        raise typer.Exit(3)
