"""The cost part of the `make run` demo: the spend of the demo's calls per model, then a budget refusal.

A ``block`` budget of 0 USD on the app ``budget-demo`` is set before the gateway demo; at the end one call of
that app is refused by the gateway with 429 ``insufficient_quota`` (it read the budget from its topic meanwhile).
The cost service prices every call the demo made (the gateway's, those sent to ingest, the refused one); the
report groups them by model.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from llmops_cli.platform import GATEWAY_MODEL
from llmops_cli.render import table

__all__ = ["run_cost_demo", "set_demo_budget"]

WAIT_S = 60.0
BUDGET_APP = "budget-demo"


def _report(cost: httpx.Client) -> list[dict[str, Any]]:
    response = cost.get("/v1/costs/report", params={"group_by": "model", "period": "day"})
    rows: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
    return rows


def show_costs(cost_url: str, reader_key: str, console: Console) -> None:
    """Wait until the demo's calls are priced and stored, then print the spend per model."""
    deadline = time.monotonic() + WAIT_S
    with (
        httpx.Client(base_url=cost_url, headers={"Authorization": f"Bearer {reader_key}"}, timeout=30) as cost,
        console.status("waiting for the cost of the demo's calls..."),
    ):
        rows = _report(cost)
        while not rows and time.monotonic() < deadline:
            time.sleep(0.5)
            rows = _report(cost)
    calls = sum(r["calls"] for r in rows)
    console.print(f"[green]✓[/green] cost: {calls} calls priced (`llmops cost report --group-by model`)")
    shown = [{**r, "model": r["group"], "day": r["period_start"][:10]} for r in rows]
    console.print(table("spend per model", shown, ("day", "model", "calls", "unpriced", "estimated", "usd")))


def set_demo_budget(cost_url: str, keys: dict[str, str], console: Console) -> None:
    """A 0 USD blocking budget on the app ``budget-demo`` (set early: the gateway reads it from its topic)."""
    budget = {"name": "demo cap", "scope": {"kind": "app", "value": BUDGET_APP}, "period": "daily", "limit": "0",
              "currency": "USD", "action": "block"}  # fmt: skip
    deadline = time.monotonic() + WAIT_S
    with httpx.Client(base_url=cost_url, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=30) as cost:
        made = cost.put("/v1/budgets/demo-cap", json=budget)
        while made.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            made = cost.put("/v1/budgets/demo-cap", json=budget)
    if made.status_code != 200:
        console.print(f"[yellow]budget: HTTP {made.status_code}: {escape(made.text[:300])}[/]")
        return
    console.print(f"[green]✓[/green] budget demo-cap: 0 USD a day for app {BUDGET_APP}, enforced by the gateway")


def show_budget_refusal(gateway_url: str, writer_key: str, console: Console) -> None:
    """One call of the app ``budget-demo`` (exactly one: the demo's call counts are exact), refused."""
    headers = {"Authorization": f"Bearer {writer_key}", "X-LLMOps-App": BUDGET_APP}
    body = {"model": GATEWAY_MODEL, "messages": [{"role": "user", "content": "One more, please."}], "max_tokens": 4}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=60) as gateway:
        response = gateway.post("/v1/chat/completions", json=body)
    if response.status_code != 429:
        console.print(f"[yellow]budget: the gateway answered HTTP {response.status_code}, not 429[/]")
        return
    error = response.json().get("error", {})
    console.print(f"[green]✓[/green] budget: {BUDGET_APP}'s call refused, 429 {error.get('type')}: "
                  f"{escape(str(error.get('message')))}")  # fmt: skip


def run_cost_demo(cost_url: str, gateway_url: str, keys: dict[str, str], console: Console) -> None:
    """The spend of the demo's calls per model, then the budget refusal (after :func:`set_demo_budget`)."""
    show_budget_refusal(gateway_url, keys["writer"], console)
    show_costs(cost_url, keys["reader"], console)
