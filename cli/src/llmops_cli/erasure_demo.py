"""The `llmops up` demo of erasure: one demo user erased through the governance service, and the receipts: rows
erased per service and table, and the purge deadline (docs/governance.md#erasure)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console

from llmops_cli.erase_cmd import receipt_table

__all__ = ["DEMO_SUBJECT", "run_erasure_demo"]

DEMO_SUBJECT = "user-7"
"""A user of the demo's calls (user-1 ... user-200)."""
RECEIPT_TIMEOUT_S = 30.0
OTHERS_GRACE_S = 10.0


def run_erasure_demo(
    governance_url: str, admin_key: str, console: Console, checked: Callable[[httpx.Response, str], dict[str, Any]]
) -> None:
    """Erase the demo subject and print the receipts that arrive within :data:`RECEIPT_TIMEOUT_S`."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    body = {"subject_type": "user_id", "subject_value": DEMO_SUBJECT, "reason": "llmops up demo: right to erasure"}
    with httpx.Client(base_url=governance_url, timeout=30) as governance:
        accepted = checked(governance.post("/v1/erasures", headers=admin, json=body), "requesting an erasure")
        status = _receipts(governance, accepted["request_id"], admin)
    rows = sum(r["rows_affected"] for r in status["receipts"])
    calls = sum(r["counts"].get("calls", 0) for r in status["receipts"] if r["service"] == "warehouse")
    mark = "[green]✓[/green]" if status["receipts"] else "[yellow]![/yellow]"
    console.print(
        f"{mark} erasure: {DEMO_SUBJECT} erased ({calls} calls, {rows} rows in all; {status['status']}), receipts:"
    )
    console.print(receipt_table(status))


def _receipts(governance: httpx.Client, request_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """The request's receipts once every service answered, or those in after the timeout (the other services get
    :data:`OTHERS_GRACE_S` once the warehouse's is in)."""
    deadline = time.monotonic() + RECEIPT_TIMEOUT_S
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
