"""`llmops feedback`: review queues and the preference / fine-tuning export (the feedback service's API).

Exit codes as for `llmops prompts`: 0 success; 1 the service failed or could not be reached; 2 bad input
(including a 4xx from the service: an unknown queue, a lock another reviewer holds, an expired lock...).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from llmops_cli.client import ApiError
from llmops_cli.context import CliContext, cli_context
from llmops_cli.options import Json, seconds
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, fail, print_json, request, service_client, table

__all__ = ["DEFAULT_FEEDBACK_URL", "feedback_app"]

DEFAULT_FEEDBACK_URL = "http://127.0.0.1:8006"

feedback_app = typer.Typer(help="Review queues and preference / fine-tuning exports.", no_args_is_help=True)
queues_app = typer.Typer(help="Review queues: create, list, show, items, next, review, release, assign.")
feedback_app.add_typer(queues_app, name="queues")

FeedbackUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_FEEDBACK_URL",
        help=f"Feedback service base URL (default: that of a running `llmops up`, else {DEFAULT_FEEDBACK_URL})",
        show_default=False,
    ),
]
Queue = Annotated[str, typer.Argument(help="The queue's name")]
Item = Annotated[str, typer.Argument(help="The item's id (its call id)")]


def _client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    return service_client(
        ctx, url, api_key, state_key="feedback_url", default=DEFAULT_FEEDBACK_URL, what="the feedback service"
    )


def _progress_row(view: dict[str, Any]) -> dict[str, Any]:
    queue, done = view["queue"], view["progress"]
    kappas = ", ".join(f"{a['answer']} {a['kappa']:.2f}" for a in view["agreement"] if a["kappa"] is not None)
    return {
        "name": queue["name"], "source": queue["source"], "items": done["items"], "open": done["open"],
        "locked": done["locked"], "done": done["done"], "reviewed": f"{done['fraction_done']:.0%}",
        "kappa": kappas or None,
    }  # fmt: skip


@queues_app.command("list")
def list_queues(
    ctx: typer.Context, feedback_url: FeedbackUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """The tenant's review queues with their progress and agreement (Cohen's kappa)."""
    cli = cli_context(ctx)
    _, body = request(cli, _client(ctx, feedback_url, api_key), "GET", "/v1/review/queues")
    if json_output:
        print_json(cli, body)
        return
    columns = ("name", "source", "items", "open", "locked", "done", "reviewed", "kappa")
    cli.out.print(table([_progress_row(v) for v in body], columns) if body else "no review queues")


def _json_object(cli: CliContext, text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise cli.fail(f"{option} is not JSON: {exc}", code=2) from exc
    if not isinstance(value, dict):
        raise cli.fail(f"{option} must be a JSON object", code=2)
    return value


@queues_app.command("create")
def create(
    ctx: typer.Context,
    name: Queue,
    source: Annotated[str, typer.Option(help="low_score, negative_feedback, sample or dataset")],
    params: Annotated[
        str, typer.Option(help='The source\'s params as JSON, e.g. {"evaluator": "judge", "below": 0.5}')
    ] = "{}",
    labels: Annotated[str, typer.Option(help="Comma-separated labels reviewers may give")] = "",
    reviews_per_item: Annotated[int, typer.Option(min=1, max=3, help="Distinct reviewers per item")] = 1,
    lock_ttl: Annotated[str, typer.Option(help="How long a claimed item stays locked (15m, 1h)")] = "15m",
    max_items: Annotated[int, typer.Option(min=1, help="Most items to take")] = 500,
    description: Annotated[str | None, typer.Option(help="What the queue is for")] = None,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Create a queue from a filter over the tenant's history (needs an admin key)."""
    cli = cli_context(ctx)
    body = {
        "name": name, "source": source, "params": _json_object(cli, params, "--params"),
        "labels": [label.strip() for label in labels.split(",") if label.strip()],
        "reviews_per_item": reviews_per_item, "lock_ttl_s": seconds(lock_ttl, "--lock-ttl"), "max_items": max_items,
        "description": description,
    }  # fmt: skip
    _, created = request(cli, _client(ctx, feedback_url, api_key), "POST", "/v1/review/queues", json=body)
    if json_output:
        print_json(cli, created)
        return
    cut = " (history cut at the service's row bound: narrow the window)" if created["history_truncated"] else ""
    cli.out.print(f"{name} created with {created['items']} items{cut}", highlight=False, markup=False)


@queues_app.command("show")
def show(
    ctx: typer.Context,
    name: Queue,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """One queue: its filter, progress, and agreement between reviewers per answer kind."""
    cli = cli_context(ctx)
    _, view = request(cli, _client(ctx, feedback_url, api_key), "GET", f"/v1/review/queues/{name}")
    if json_output:
        print_json(cli, view)
        return
    queue = view["queue"]
    cli.out.print(
        f"[bold]{name}[/bold]: {queue['source']} {json.dumps(queue['params'], sort_keys=True)}", highlight=False
    )
    cli.out.print(table([_progress_row(view)], ("items", "open", "locked", "done", "reviewed")))
    if view["agreement"]:
        cli.out.print(table(view["agreement"], ("answer", "items", "kappa", "observed")))


@queues_app.command("items")
def items(
    ctx: typer.Context,
    name: Queue,
    status: Annotated[str | None, typer.Option(help="open or done")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """A queue's items in the order they are handed out."""
    cli = cli_context(ctx)
    params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
    _, body = request(cli, _client(ctx, feedback_url, api_key), "GET", f"/v1/review/queues/{name}/items", params=params)
    if json_output:
        print_json(cli, body)
        return
    rows = [_item_row(i) for i in body["items"]]
    columns = ("item", "status", "reason", "locked_by", "assignee", "reviews")
    cli.out.print(table(rows, columns) if rows else "no items")


def _item_row(item: dict[str, Any]) -> dict[str, Any]:
    reviews = ", ".join(r["reviewer"] for r in item["reviews"])
    return {
        "item": item["item_id"],
        "status": item["status"],
        "reason": item.get("reason"),
        "locked_by": item.get("locked_by"),
        "assignee": item.get("assignee"),
        "reviews": reviews or None,
    }


def _print_item(cli: CliContext, item: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(cli, item)
        return
    cli.out.print(table([_item_row(item)], ("item", "status", "reason", "locked_by", "assignee", "reviews")))
    if item.get("locked_until"):
        cli.err.print(f"locked for you until {item['locked_until']}", highlight=False)


@queues_app.command("next")
def next_item(
    ctx: typer.Context,
    name: Queue,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Claim the next item for you to review (read the call with `llmops calls --id ITEM`)."""
    cli = cli_context(ctx)
    status, item = request(cli, _client(ctx, feedback_url, api_key), "POST", f"/v1/review/queues/{name}/next")
    if status == 204:
        cli.out.print(f"nothing left for you in {name}", highlight=False, markup=False)
        return
    _print_item(cli, item, json_output)


@queues_app.command("review")
def review(
    ctx: typer.Context,
    name: Queue,
    item: Item,
    verdict: Annotated[str | None, typer.Option(help="approve or reject")] = None,
    label: Annotated[str | None, typer.Option(help="One of the queue's labels")] = None,
    rating: Annotated[int | None, typer.Option(help="1 to 5 (the service checks the range)")] = None,
    correction: Annotated[str | None, typer.Option(help="The answer the call should have given")] = None,
    comment: Annotated[str | None, typer.Option()] = None,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Review an item you claimed (its lock must still be yours)."""
    cli = cli_context(ctx)
    answers = {"verdict": verdict, "label": label, "rating": rating, "correction": correction, "comment": comment}
    body = {"item_id": item, **{k: v for k, v in answers.items() if v is not None}}
    _, reviewed = request(
        cli, _client(ctx, feedback_url, api_key), "POST", f"/v1/review/queues/{name}/reviews", json=body
    )
    _print_item(cli, reviewed, json_output)


@queues_app.command("release")
def release(
    ctx: typer.Context, name: Queue, item: Item, feedback_url: FeedbackUrl = None, api_key: AdminKey = None
) -> None:
    """Give back an item you claimed, unreviewed."""
    cli = cli_context(ctx)
    request(
        cli, _client(ctx, feedback_url, api_key), "POST", f"/v1/review/queues/{name}/release", json={"item_id": item}
    )
    cli.out.print(f"{item} released", highlight=False, markup=False)


@queues_app.command("assign")
def assign(
    ctx: typer.Context,
    name: Queue,
    item: Item,
    to: Annotated[str | None, typer.Option("--to", help="The reviewer's API key id (none: anyone)")] = None,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Reserve an item for one reviewer (needs an admin key)."""
    cli = cli_context(ctx)
    body = {"item_id": item, "assignee": to}
    request(cli, _client(ctx, feedback_url, api_key), "POST", f"/v1/review/queues/{name}/assign", json=body)
    cli.out.print(f"{item} assigned to {to or 'anyone'}", highlight=False, markup=False)


@feedback_app.command("export")
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Argument(help="dpo (chosen/rejected pairs) or sft (approved conversations)")],
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="The JSONL file to write")],
    since: Annotated[str, typer.Option(help="Calls of the last: 30m, 12h, 30d")] = "30d",
    app: Annotated[str | None, typer.Option(help="Only this app's calls")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model's calls")] = None,
    prompt_name: Annotated[str | None, typer.Option(help="Only calls of this prompt")] = None,
    prompt_version: Annotated[int | None, typer.Option(min=1, help="Only this prompt version")] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help="Row sources (repeat): dpo: correction, pairwise, rating; sft: approved, corrected"),
    ] = None,
    min_margin: Annotated[float, typer.Option(help="rating pairs: stars apart")] = 1.0,
    include_end_users: Annotated[bool, typer.Option(help="Count end users' approvals and corrections too")] = False,
    feedback_url: FeedbackUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Write preference pairs or supervised examples in TRL's conversational format, with lineage per row."""
    cli = cli_context(ctx)
    start = datetime.fromtimestamp(datetime.now(UTC).timestamp() - seconds(since, "--since"), UTC).isoformat()
    params: dict[str, Any] = {"start": start, "app": app, "model": model, "prompt_name": prompt_name,
                              "prompt_version": prompt_version, "source": source or None, "min_margin": min_margin,
                              "include_end_users": include_end_users}  # fmt: skip
    client = _client(ctx, feedback_url, api_key)
    try:
        with client.stream(
            "GET", f"/v1/exports/{format}", params={k: v for k, v in params.items() if v is not None}
        ) as answer:
            written = _write(cli, answer, out)
            skipped = json.loads(answer.headers.get("x-llmops-export-skipped", "{}"))
    except ApiError as exc:
        fail(cli, exc)
    left_out = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())) or "none"
    cli.out.print(f"{written} {format} rows written to {out} (left out: {left_out})", highlight=False, markup=False)


def _write(cli: CliContext, answer: Any, out: Path) -> int:
    total = int(answer.headers.get("x-llmops-export-rows", "0"))
    columns = (TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    written = 0
    with out.open("w", encoding="utf-8") as file, Progress(*columns, console=cli.err) as progress:
        task = progress.add_task("export", total=total)
        for line in answer.iter_lines():
            if line:
                file.write(line + "\n")
                written += 1
                progress.advance(task)
    return written
