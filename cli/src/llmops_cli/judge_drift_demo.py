"""The judge-drift part of the `llmops up` demo (docs/drift.md#judge-drift): an anchor set uploaded to the evaluation
service, a judge monitor on drift-detection re-scoring it with the demo's judge, two checks (the baseline, then a
run paired with it), and the verdict from the stored drift report. Runs after the judge demo (its rubric)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from llmops_cli.judge_demo import JUDGE_RUBRIC
from llmops_cli.platform import JUDGE_MODEL, LocalPlatform

__all__ = ["run_judge_drift_demo"]

MONITOR = "demo-judge"
DATASET = "judge-anchors"
WAIT_S = 120.0
QUESTIONS = ["Where is my parcel?", "Can I get a refund?", "How do I change my address?", "When does the shop open?",
             "Is shipping free?", "Can I pay by invoice?", "How do I reset my password?", "Do you ship abroad?",
             "Can I cancel an order?", "How long is the warranty?"]  # fmt: skip


def run_judge_drift_demo(platform: LocalPlatform, keys: dict[str, str], answers_model: str, console: Console) -> None:
    """Upload the anchors, add the monitor, check it twice and print the paired verdict (or why there is none)."""
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    body = "\n".join(json.dumps({"id": f"anchor-{n:02d}", "input": q}) for n, q in enumerate(QUESTIONS))
    with httpx.Client(timeout=30) as http:
        uploaded = http.post(f"{platform.url('evaluation')}/v1/datasets/{DATASET}", headers=admin, content=body)
        if uploaded.status_code != 201:
            console.print(f"[yellow]judge drift: the anchor set was refused: HTTP {uploaded.status_code}[/]")
            return
        rubric = {"name": JUDGE_RUBRIC, "label": "production"}
        monitor = {
            "app": "judge-demo",
            "dataset": DATASET,
            "dataset_version": uploaded.json()["dataset"]["version"],
            "variant": {"model": answers_model},
            "judge": {"name": "demo-judge", "kind": "llm_judge", "params": {"model": JUDGE_MODEL, "prompt": rubric}},
            "min_items": 10,
            "min_shift": 0.5,
        }
        drift = platform.url("drift-detection")
        created = http.put(f"{drift}/v1/drift/judges/{MONITOR}", headers=admin, json=monitor)
        if created.status_code >= 400:
            console.print(f"[yellow]judge drift: the monitor was refused: HTTP {created.status_code}[/]")
            return
        seen = {data["report_id"] for data in _reports(http, platform, keys)}  # a previous `llmops up`'s
        reports = [_checked(http, platform, keys, seen, console) for _ in range(2)]
        stored = http.get(f"{drift}/v1/drift/judges/{MONITOR}", headers=admin)
        next_check = stored.json().get("next_check_at") if stored.status_code == 200 else None
    verdict = reports[-1]
    if verdict is None:
        return
    if verdict.get("dataset_drift") is None:
        console.print(f"[yellow]judge drift: no verdict: {escape(str(verdict.get('reason')))}[/]")
        return
    metric = verdict["judge"]["metrics"][0]
    console.print(
        f"[green]✓[/green] judge drift: {MONITOR} re-scored {metric['items']} anchor answers with {JUDGE_MODEL}, "
        f"paired with baseline run {verdict['judge']['baseline_run_id']}: dataset_drift={verdict['dataset_drift']} "
        f"(mean shift {metric['mean_shift']:+.2f}, Wilcoxon p {metric['p_value']:.3g}); `llmops drift judges list`"
    )
    if next_check:  # the schedule is on the monitor: one replica checks it, a restart resumes it (docs/adr/0058)
        console.print(f"  next check {next_check} by the replica owning its partition of llmops.drift.judges")


def _checked(
    http: httpx.Client, platform: LocalPlatform, keys: dict[str, str], seen: set[str], console: Console
) -> dict[str, Any] | None:
    """Start a check and wait for its report in the warehouse (a report not seen before)."""
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    started = http.post(f"{platform.url('drift-detection')}/v1/drift/judges/{MONITOR}/check", headers=admin)
    if started.status_code != 202:
        console.print(f"[yellow]judge drift: the check was refused: HTTP {started.status_code}[/]")
        return None
    deadline = time.monotonic() + WAIT_S
    with console.status("waiting for the judge-drift report..."):
        while time.monotonic() < deadline:
            for data in _reports(http, platform, keys):
                if data["report_id"] not in seen:
                    seen.add(data["report_id"])
                    return data
            time.sleep(1.0)
    console.print(f"[yellow]judge drift: no report after {WAIT_S:.0f}s[/]")
    return None


def _reports(http: httpx.Client, platform: LocalPlatform, keys: dict[str, str]) -> list[dict[str, Any]]:
    """The monitor's stored reports, newest first (none while the warehouse cannot answer)."""
    page = http.get(f"{platform.url('warehouse')}/v1/events/drift_reports", params={"app": "judge-demo", "limit": 50},
                    headers={"Authorization": f"Bearer {keys['admin']}"})  # fmt: skip
    rows = page.json().get("items", []) if page.status_code == 200 else []
    return [dict(row["data"]) for row in rows if (row["data"].get("judge") or {}).get("monitor_id") == MONITOR]
