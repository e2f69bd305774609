"""The `llmops up` demo's online scores and A/B verdict: the gateway demo's calls, scored online by the demo's
heuristics, summed up per evaluator from the warehouse; then the verdict of the demo's A/B experiment
(docs/evaluation.md#ab-verdicts), as `llmops evals verdict` prints it.

A demo of a few dozen calls is far below the 100 values per arm a sequential test waits for, so its verdict is
honestly "keep running", with both arms' sample sizes; it is computed by the evaluation service all the same.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from llmops_cli.render import table
from llmops_cli.verdict_cmd import print_verdict

__all__ = ["show_online_scores", "show_verdict"]

WAIT_S = 60.0


def _scores(warehouse: httpx.Client, app: str) -> list[dict[str, Any]]:
    """The newest score events of ``app`` (one per call and evaluation pass)."""
    params: dict[str, str | int] = {"app": app, "start": "1970-01-01T00:00:00Z", "limit": 1000}
    response = warehouse.get("/v1/events/evaluation_scores", params=params)
    return [row["data"] for row in response.json().get("items", [])] if response.status_code == 200 else []


def _by_evaluator(passes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per evaluator and metric: calls scored, the mean score and how many passed."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in (i for p in passes for i in p["scores"] if i["outcome"] == "scored"):
        groups.setdefault((item["evaluator"]["name"], item["metric"]), []).append(item)
    return [_row(name, metric, items) for (name, metric), items in sorted(groups.items())]


def _row(name: str, metric: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    mean = sum(i["score"] for i in items) / len(items)
    passed = sum(1 for i in items if i.get("passed"))
    return {"evaluator": name, "metric": metric, "scored": len(items), "mean": round(mean, 3), "passed": passed}


def show_online_scores(
    warehouse_url: str, reader_key: str, app: str, call_ids: Collection[str], console: Console
) -> None:
    """Wait until every one of ``call_ids`` has its online scores stored, then print them per evaluator."""
    headers = {"Authorization": f"Bearer {reader_key}"}
    deadline = time.monotonic() + WAIT_S
    with (
        httpx.Client(base_url=warehouse_url, headers=headers, timeout=30) as warehouse,
        console.status("waiting for the online scores of the gateway's calls..."),
    ):
        passes = [p for p in _scores(warehouse, app) if p["call_id"] in call_ids]
        while len({p["call_id"] for p in passes}) < len(call_ids) and time.monotonic() < deadline:
            time.sleep(0.5)
            passes = [p for p in _scores(warehouse, app) if p["call_id"] in call_ids]
    scored = len({p["call_id"] for p in passes})
    console.print(f"[green]✓[/green] online scores: {scored} of {len(call_ids)} gateway calls of {app} scored")
    console.print(table(f"online scores of {app} by evaluator", _by_evaluator(passes),
                        ("evaluator", "metric", "scored", "mean", "passed")))  # fmt: skip


def show_verdict(evaluation_url: str, reader_key: str, experiment_id: str, console: Console) -> None:
    """The experiment's verdict from the evaluation service (retried while it starts: 503), as a table."""
    headers = {"Authorization": f"Bearer {reader_key}"}
    deadline = time.monotonic() + WAIT_S
    with httpx.Client(base_url=evaluation_url, headers=headers, timeout=60) as evaluation:
        response = evaluation.get(f"/v1/experiments/{experiment_id}/verdict")
        while response.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            response = evaluation.get(f"/v1/experiments/{experiment_id}/verdict")
    if response.status_code != 200:
        console.print(f"[yellow]A/B verdict: HTTP {response.status_code}: {escape(response.text[:300])}[/]")
        return
    body = response.json()
    sizes = ", ".join(f"{v['variant']} {v['calls']}" for v in body["variants"])
    console.print(
        f"[green]✓[/green] A/B verdict on {experiment_id}: {body['verdict']} on {body['primary_metric']} "
        f"(calls: control {body['control']} {body['control_calls']}, {sizes})",
        highlight=False,
    )
    print_verdict(console, body)
    console.print(f"  try: uv run llmops evals verdict {experiment_id}", highlight=False, markup=False)
