"""`llmops cost`: prices, spend reports and estimates; `llmops budgets`: budgets (the cost service's API).

Exit codes as for `llmops prompts`: 0 success; 1 the service failed or could not be reached; 2 bad input
(including a 4xx from the service: an unknown model, a malformed price...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from llmops_cli.context import CliContext, cli_context
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, Json, print_json, request, service_client, table

__all__ = ["DEFAULT_COST_URL", "budgets_app", "cost_app"]

DEFAULT_COST_URL = "http://127.0.0.1:8008"
MAX_DATASET_TEXTS = 100_000

cost_app = typer.Typer(help="Prices, spend reports and cost estimates.", no_args_is_help=True)

CostUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_COST_URL",
        help=f"Cost service base URL (default: that of a running `llmops up`, else {DEFAULT_COST_URL})",
        show_default=False,
    ),
]
Model = Annotated[str, typer.Argument(help="The model, as LiteLLM's price map spells it (e.g. gpt-4o-mini)")]


def _client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    return service_client(ctx, url, api_key, state_key="cost_url", default=DEFAULT_COST_URL, what="the cost service")


@cost_app.command("price")
def price(
    ctx: typer.Context,
    model: Model,
    prompt_tokens: Annotated[int, typer.Option(min=0, help="Prompt tokens of the call")] = 0,
    completion_tokens: Annotated[int, typer.Option(min=0, help="Completion tokens of the call")] = 0,
    cached_prompt_tokens: Annotated[int, typer.Option(min=0, help="Part of the prompt read from a cache")] = 0,
    cost_url: CostUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """The catalog's cost of one call (``usd``), with the price and the catalog version it used."""
    cli = cli_context(ctx)
    params = {
        "model": model, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "cached_prompt_tokens": cached_prompt_tokens,
    }  # fmt: skip
    _, body = request(cli, _client(ctx, cost_url, api_key), "GET", "/v1/prices/quote", params=params)
    if json_output:
        print_json(cli, {**body, "catalog_version": body["price"]["catalog_version"]})
        return
    found = body["price"]
    cli.out.print(f"{model}: {body['usd']} {found['currency']} ({found['source']} {found['catalog_version']})")


@cost_app.command("report")
def report(
    ctx: typer.Context,
    group_by: Annotated[str, typer.Option(help="app, model, prompt, variant, key or tenant")] = "model",
    period: Annotated[str, typer.Option(help="minute, hour, day or month")] = "day",
    start: Annotated[str | None, typer.Option(help="ISO instant (default: 7 days before --end)")] = None,
    end: Annotated[str | None, typer.Option(help="ISO instant (default: now)")] = None,
    cost_url: CostUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Spend per period and group; each call counted once, unpriced calls counted apart."""
    cli = cli_context(ctx)
    params = {"group_by": group_by, "period": period, "start": start, "end": end}
    query = {k: v for k, v in params.items() if v is not None}
    _, body = request(cli, _client(ctx, cost_url, api_key), "GET", "/v1/costs/report", params=query)
    if json_output:
        print_json(cli, body)
        return
    columns = ("period_start", "group", "calls", "unpriced", "estimated", "prompt_tokens", "completion_tokens", "usd")
    cli.out.print(table(body, columns) if body else "no cost records in the window")


def _dataset_texts(cli: CliContext, path: Path, field: str) -> list[str]:
    """The ``field`` of every JSON line of ``path`` (a dataset export: one example per line)."""
    texts: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)[field]
            except (ValueError, KeyError, TypeError) as exc:
                raise cli.fail(f"{path}:{number}: no {field!r} in a JSON object ({exc})", code=2) from exc
            texts.append(value if isinstance(value, str) else json.dumps(value))
            if len(texts) > MAX_DATASET_TEXTS:
                raise cli.fail(f"{path}: more than {MAX_DATASET_TEXTS} examples: split it", code=2)
    return texts


@cost_app.command("estimate")
def estimate(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines, one example a line")],
    model: Annotated[str, typer.Option(help="The model to price the dataset on")],
    field: Annotated[str, typer.Option(help="The field of each line that is the prompt")] = "input",
    completion_tokens: Annotated[int, typer.Option(min=0, help="Expected completion tokens per example")] = 256,
    cost_url: CostUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """What running every example of a dataset through ``--model`` would cost (tokens counted offline)."""
    cli = cli_context(ctx)
    body: dict[str, Any] = {
        "model": model, "texts": _dataset_texts(cli, dataset, field), "completion_tokens": completion_tokens,
    }  # fmt: skip
    _, answer = request(cli, _client(ctx, cost_url, api_key), "POST", "/v1/costs/estimate", json=body)
    if json_output:
        print_json(cli, answer)
        return
    cli.out.print(
        f"{answer['texts']} examples on {model}: about {answer['usd']} {answer['price']['currency']} "
        f"({answer['prompt_tokens']} prompt + {answer['completion_tokens']} completion tokens, estimated)"
    )


budgets_app = typer.Typer(help="Budgets per tenant, app, user, model or key: set, list, show.", no_args_is_help=True)
BudgetId = Annotated[str, typer.Argument(help="The budget's id (yours to choose, e.g. chat-daily)")]


def _budget_row(view: dict[str, Any]) -> dict[str, Any]:
    budget = view["budget"]
    scope = budget["scope"]
    return {
        "budget_id": budget["budget_id"], "scope": f"{scope['kind']} {scope.get('value') or ''}".strip(),
        "period": budget["period"], "limit": f"{budget['limit']} {budget['currency']}", "action": budget["action"],
        # A seed from the warehouse cut short by its bounds: part of the period is not counted (docs/cost.md).
        "spent": f"at least {view['spent']}" if view.get("spent_lower_bound") else view["spent"],
        "reserved": view["reserved"], "since": view["period_start"],
    }  # fmt: skip


@budgets_app.command("set")
def set_budget(
    ctx: typer.Context,
    budget_id: BudgetId,
    limit: Annotated[str, typer.Option(help="The limit as a decimal, e.g. 25.00")],
    period: Annotated[str, typer.Option(help="daily, weekly, monthly or total")] = "monthly",
    scope: Annotated[str, typer.Option(help="tenant, app, user, model or api_key")] = "tenant",
    value: Annotated[str | None, typer.Option(help="The app, user, model or key id (not for tenant)")] = None,
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "USD",
    block: Annotated[bool, typer.Option("--block/--alert", help="Refuse calls at the limit, or only alert")] = False,
    name: Annotated[str | None, typer.Option(help="A display name (default: the id)")] = None,
    cost_url: CostUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Define or change a budget; thresholds at 50, 80 and 100 % publish events, --block enforces the limit."""
    cli = cli_context(ctx)
    body = {
        "name": name or budget_id, "scope": {"kind": scope, **({"value": value} if value else {})},
        "period": period, "limit": limit, "currency": currency, "action": "block" if block else "alert",
    }  # fmt: skip
    _, answer = request(cli, _client(ctx, cost_url, api_key), "PUT", f"/v1/budgets/{budget_id}", json=body)
    if json_output:
        print_json(cli, answer)
        return
    cli.out.print(table([_budget_row(answer)], list(_budget_row(answer))))


@budgets_app.command("list")
def list_budgets(
    ctx: typer.Context, cost_url: CostUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """The tenant's budgets with their current period's spend."""
    cli = cli_context(ctx)
    _, body = request(cli, _client(ctx, cost_url, api_key), "GET", "/v1/budgets")
    if json_output:
        print_json(cli, body)
        return
    rows = [_budget_row(view) for view in body]
    cli.out.print(table(rows, list(rows[0])) if rows else "no budgets")


@budgets_app.command("show")
def show_budget(
    ctx: typer.Context,
    budget_id: BudgetId,
    cost_url: CostUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """One budget and its spend."""
    cli = cli_context(ctx)
    _, body = request(cli, _client(ctx, cost_url, api_key), "GET", f"/v1/budgets/{budget_id}")
    if json_output:
        print_json(cli, body)
        return
    cli.out.print(table([_budget_row(body)], list(_budget_row(body))))
