"""The `llmops up` demo of erasure: a data subject of this run (two calls under a user id of its own) erased through
the governance service, and the receipts: rows erased per service and table, and the purge deadline
(docs/governance.md#erasure). A subject of its own, so the demo's other calls stay as they were."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console

from llmops_cli.client import PlatformClient
from llmops_cli.demo import demo_calls
from llmops_cli.erase_cmd import receipt_table

__all__ = ["ERASURE_CALLS", "run_erasure_demo"]

ERASURE_CALLS = 2
"""Calls the demo sends for its subject, then erases (the per-minute rollup keeps counting them)."""
TIMEOUT_S = 30.0
OTHERS_GRACE_S = 10.0


def run_erasure_demo(
    client: PlatformClient,
    governance_url: str,
    admin_key: str,
    console: Console,
    checked: Callable[[httpx.Response, str], dict[str, Any]],
) -> None:
    """Send the subject's calls, wait until they are stored, erase the subject, print the receipts."""
    stamp = int(time.time())
    subject = f"demo-subject-{stamp}"
    records = [
        {**r, "user_id": subject} for r in demo_calls(ERASURE_CALLS, seed=stamp, spread_minutes=1, prefix="erase")
    ]
    client.send_calls(records)
    _until(lambda: len(client.list_calls(user_id=subject, limit=10)["items"]) == ERASURE_CALLS)
    admin = {"Authorization": f"Bearer {admin_key}"}
    body = {"subject_type": "user_id", "subject_value": subject, "reason": "llmops up demo: right to erasure"}
    with httpx.Client(base_url=governance_url, timeout=30) as governance:
        accepted = checked(governance.post("/v1/erasures", headers=admin, json=body), "requesting an erasure")
        status = _receipts(governance, accepted["request_id"], admin)
    rows = sum(r["rows_affected"] for r in status["receipts"])
    calls = sum(r["counts"].get("calls", 0) for r in status["receipts"] if r["service"] == "warehouse")
    mark = "[green]✓[/green]" if status["receipts"] else "[yellow]![/yellow]"
    console.print(
        f"{mark} erasure: {subject} erased ({calls} calls, {rows} rows in all; {status['status']}), receipts:"
    )
    console.print(receipt_table(status))


def _until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _receipts(governance: httpx.Client, request_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """The request's receipts once every service answered, or those in after the timeout (the other services get
    :data:`OTHERS_GRACE_S` once the warehouse's is in)."""
    deadline = time.monotonic() + TIMEOUT_S
    status: dict[str, Any] = {"request_id": request_id, "status": "pending", "receipts": [], "waiting_for": []}
    while time.monotonic() < deadline:
        response = governance.get(f"/v1/erasures/{request_id}", headers=headers)
        if response.status_code == 200:
            status = response.json()
            if status["status"] != "pending":
                break
            if any(r["service"] == "warehouse" for r in status["receipts"]):
                deadline = min(deadline, time.monotonic() + OTHERS_GRACE_S)
        time.sleep(0.2)
    return status
