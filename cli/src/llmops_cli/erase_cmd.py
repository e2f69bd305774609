"""`llmops erase`: ask the governance service to erase a data subject, and print the receipts.

Every service holding personal data erases on its own and sends a receipt with counts per table or store
(docs/governance.md#erasure). ``--wait`` polls the receipts until every such service has answered (or the
timeout passes). Exit codes: 0 done (or accepted, without --wait); 1 the service failed, could not be reached,
a receipt says "failed", or --wait timed out; 2 bad input (including a 4xx from the service).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from llmops_cli.client import ApiError
from llmops_cli.context import CliContext, cli_context
from llmops_cli.keys import GovernanceUrl, governance_client
from llmops_cli.options import Json
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, fail, print_json, request

__all__ = ["erase", "receipt_table", "wait_for_receipts"]

_POLL_S = 0.5


class SubjectType(StrEnum):
    user_id = "user_id"
    session_id = "session_id"
    call_id = "call_id"
    email = "email"
    hashed_id = "hashed_id"


def receipt_table(status: dict[str, Any]) -> Table:
    """One row per service and table: what the service erased there; the purge deadline per service."""
    out = Table(title=f"erasure {status['request_id']}: {status['status']}", header_style="bold cyan")
    for column, justify in (("service", "left"), ("table", "left"), ("rows", "right"), ("purge deadline", "left")):
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    for receipt in status["receipts"]:
        counts = receipt["counts"] or {"-": 0}
        deadline = receipt.get("purge_deadline") or "-"
        for i, (name, rows) in enumerate(sorted(counts.items())):
            out.add_row(receipt["service"] if i == 0 else "", name, str(rows), deadline if i == 0 else "")
        if receipt.get("error"):
            out.add_row("", "error", "", receipt["error"])
    for service in status.get("waiting_for") or []:
        out.add_row(service, "(no receipt yet)", "", "")
    return out


def _status(cli: CliContext, client: GatewayClient, request_id: str) -> dict[str, Any]:
    """The request's receipts; a request the warehouse has not stored yet (404) is pending."""
    try:
        return client.call("GET", f"/v1/erasures/{request_id}")[1]  # type: ignore[no-any-return]
    except ApiError as exc:
        if exc.status_code == 404:
            return {"request_id": request_id, "status": "pending", "receipts": [], "waiting_for": []}
        fail(cli, exc)


def wait_for_receipts(cli: CliContext, client: GatewayClient, request_id: str, timeout_s: float) -> dict[str, Any]:
    """Poll the receipts until the request is no longer pending, or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = _status(cli, client, request_id)
        if status["status"] != "pending" or time.monotonic() > deadline:
            return status
        time.sleep(_POLL_S)  # the receipts arrive on their own: polling is all a CLI can do


def erase(
    ctx: typer.Context,
    subject_type: Annotated[SubjectType, typer.Option(help="What the value is (docs/governance.md#erasure)")],
    value: Annotated[str, typer.Option(help="The subject's identifier, e-mail address or PII-engine hash")],
    reason: Annotated[str, typer.Option(help="Why, e.g. 'GDPR art. 17 #1234' (kept with the request)")],
    wait: Annotated[bool, typer.Option(help="Wait for every service's receipt and print the counts")] = False,
    timeout: Annotated[float, typer.Option(help="With --wait: seconds to wait at most")] = 60.0,
    governance_url: GovernanceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Erase everything stored about a data subject of your tenant (an admin key); with --wait, print the
    receipts: rows erased per service and table, and by when every copy is physically gone."""
    cli = cli_context(ctx)
    client = governance_client(ctx, governance_url, api_key)
    body = {"subject_type": subject_type.value, "subject_value": value, "reason": reason}
    _, accepted = request(cli, client, "POST", "/v1/erasures", json=body)
    if not wait:
        if json_output:
            print_json(cli, accepted)
        else:
            cli.out.print(f"{accepted['request_id']}: accepted (its receipts: GET {accepted['receipts']})")
        return
    status = wait_for_receipts(cli, client, accepted["request_id"], timeout)
    if json_output:
        print_json(cli, status)
    else:
        cli.out.print(receipt_table(status))
    if status["status"] != "completed":
        raise cli.fail(f"erasure {accepted['request_id']} is {status['status']}", 1)
