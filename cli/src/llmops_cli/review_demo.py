"""The review part of `llmops up`'s demo: a review queue of the demo's gateway calls, one item reviewed with a
correction, and that correction coming out of the preference export as a DPO row (docs/feedback.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from rich.console import Console

__all__ = ["run_review_demo"]

EXPORT_TIMEOUT_S = 60.0
CORRECTION = "Thanks for asking! Your order ships within two working days; track it from 'My orders'."


def _rows(feedback: httpx.Client, admin: dict[str, str], start: str) -> list[dict[str, Any]]:
    """The DPO rows made from corrections since ``start`` (none until the review's feedback is stored)."""
    params = {"start": start, "source": "correction"}
    response = feedback.get("/v1/exports/dpo", params=params, headers=admin)
    return [json.loads(line) for line in response.text.splitlines()] if response.status_code == 200 else []


def run_review_demo(
    feedback_url: str,
    keys: dict[str, str],
    call_ids: Sequence[str],
    stamp: int,
    console: Console,
    checked: Callable[[httpx.Response, str], dict[str, Any]],
) -> None:
    """Queue ``call_ids`` (a ``dataset`` source), review the first item as the reviewer, export it as DPO."""
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    reviewer = {"Authorization": f"Bearer {keys['reviewer']}"}
    name = f"demo-review-{stamp}"
    queue = {"name": name, "source": "dataset", "params": {"dataset": "demo", "call_ids": list(call_ids)},
             "labels": ["fine", "off-topic"]}  # fmt: skip
    with httpx.Client(base_url=feedback_url, timeout=30) as feedback:
        created = checked(feedback.post("/v1/review/queues", json=queue, headers=admin), "creating the review queue")
        item = checked(feedback.post(f"/v1/review/queues/{name}/next", headers=reviewer), "claiming a review item")
        review = {"item_id": item["item_id"], "verdict": "reject", "label": "off-topic", "correction": CORRECTION}
        checked(feedback.post(f"/v1/review/queues/{name}/reviews", json=review, headers=reviewer), "reviewing it")
        console.print(
            f"[green]✓[/green] review queue {name}: {created['items']} items, {item['item_id']} reviewed "
            "(off-topic, corrected); claim and review audited first (review_item.next, review_item.review)"
        )
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp - 3600))
        deadline = time.monotonic() + EXPORT_TIMEOUT_S
        rows = _rows(feedback, admin, start)
        with console.status("waiting for the review to reach the preference export..."):
            while not any(item["item_id"] in r["lineage"]["call_ids"] for r in rows) and time.monotonic() < deadline:
                time.sleep(1.0)
                rows = _rows(feedback, admin, start)
    mine = [r for r in rows if item["item_id"] in r["lineage"]["call_ids"]]
    if not mine:
        console.print("[yellow]the review's correction is not in the preference export yet[/]")
        return
    console.print(
        f"[green]✓[/green] preference export: {len(rows)} DPO rows from corrections, e.g. chosen "
        f"{mine[0]['chosen'][0]['content'][:40]!r}... over the call's answer (`llmops feedback export dpo`)"
    )
