"""`llmops alerts ...` and `llmops objectives ...`: the alerting service's alerts, rules, silences, notifiers and
objectives (with the error budget left and the burn rates).

Definitions are JSON files (or ``-`` for stdin) with the fields of the API's body; exit codes as for the other
service commands (0 done, 1 the service failed or was unreachable, 2 it refused the request).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llmops_cli.context import cli_context
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, Json, print_json, request, service_client, table

__all__ = ["DEFAULT_ALERTING_URL", "alerts_app", "objectives_app"]

DEFAULT_ALERTING_URL = "http://127.0.0.1:8010"

alerts_app = typer.Typer(help="Alerts (list, ack, silence) and their rules and notifiers.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules over stored metrics and event streams.", no_args_is_help=True)
notifiers_app = typer.Typer(help="Notifiers: PagerDuty, Slack-compatible and signed webhooks.", no_args_is_help=True)
objectives_app = typer.Typer(help="Objectives with error budgets and burn-rate alerts.", no_args_is_help=True)
alerts_app.add_typer(rules_app, name="rules")
alerts_app.add_typer(notifiers_app, name="notifiers")

AlertingUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_ALERTING_URL",
        help=f"Alerting service base URL (default: that of a running `llmops up`, else {DEFAULT_ALERTING_URL})",
        show_default=False,
    ),
]
Ident = Annotated[str, typer.Argument(help="The id (letters, digits, '._:@-')")]
Definition = Annotated[str, typer.Argument(help="A JSON file with the definition, or - for stdin")]


def _client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    return service_client(
        ctx, url, api_key, state_key="alerting_url", default=DEFAULT_ALERTING_URL, what="the alerting service"
    )


def _load(ctx: typer.Context, source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise cli_context(ctx).fail(f"cannot read the definition {source}: {exc}", code=2) from None


def _show(
    ctx: typer.Context, body: Any, json_output: bool, rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> None:
    cli = cli_context(ctx)
    if json_output:
        print_json(cli, body)
    elif not rows:
        cli.out.print("none")
    else:
        cli.out.print(table(rows, columns))


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context, alerting_url: AlertingUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """Open alerts (firing or acknowledged), newest first."""
    _, body = request(cli_context(ctx), _client(ctx, alerting_url, api_key), "GET", "/v1/alerts")
    rows = [
        {
            "alert": a["alert_id"],
            "status": a["status"],
            "severity": a["severity"],
            "rule": a["rule"],
            "since": a["starts_at"],
            "summary": a["summary"],
        }
        for a in body["items"]
    ]
    _show(ctx, body, json_output, rows, ("alert", "status", "severity", "rule", "since", "summary"))


@alerts_app.command("ack")
def ack(ctx: typer.Context, alert_id: Ident, alerting_url: AlertingUrl = None, api_key: AdminKey = None) -> None:
    """Acknowledge an open alert (its notifiers hear of it: PagerDuty's acknowledge)."""
    _, body = request(cli_context(ctx), _client(ctx, alerting_url, api_key), "POST", f"/v1/alerts/{alert_id}/ack")
    cli_context(ctx).out.print(f"{body['alert_id']}: {body['status']} by {body['acknowledged_by']}")


@alerts_app.command("silence")
def silence(
    ctx: typer.Context,
    silence_id: Ident,
    match: Annotated[list[str], typer.Option("--match", help="label=value (repeatable; 'rule' is the rule's id)")],
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 90, help="How long from now")] = 2.0,
    comment: Annotated[str, typer.Option(help="Why")] = "",
    alerting_url: AlertingUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Mute the notifications of alerts matching every --match for --hours (the changes are still stored)."""
    from datetime import UTC, datetime, timedelta

    matchers = dict(m.split("=", 1) for m in match if "=" in m)
    if len(matchers) != len(match):
        raise cli_context(ctx).fail("--match takes label=value", code=2)
    now = datetime.now(UTC)
    body = {
        "matchers": matchers,
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=hours)).isoformat(),
        "comment": comment,
    }
    request(cli_context(ctx), _client(ctx, alerting_url, api_key), "PUT", f"/v1/silences/{silence_id}", json=body)
    cli_context(ctx).out.print(f"silence {silence_id}: {matchers} until {body['ends_at']}")


def _crud(app: typer.Typer, plural: str, columns: tuple[str, ...]) -> None:
    @app.command("list")
    def list_items(
        ctx: typer.Context, alerting_url: AlertingUrl = None, api_key: AdminKey = None, json_output: Json = False
    ) -> None:
        """The tenant's definitions."""
        _, body = request(cli_context(ctx), _client(ctx, alerting_url, api_key), "GET", f"/v1/{plural}")
        rows = [_flat(item) for item in body["items"]]
        _show(ctx, body, json_output, rows, columns)

    @app.command("set")
    def set_item(
        ctx: typer.Context,
        ident: Ident,
        definition: Definition,
        alerting_url: AlertingUrl = None,
        api_key: AdminKey = None,
    ) -> None:
        """Create or replace one from a JSON definition (needs an admin key)."""
        path = f"/v1/{plural}/{ident}"
        status, _ = request(
            cli_context(ctx), _client(ctx, alerting_url, api_key), "PUT", path, json=_load(ctx, definition)
        )
        cli_context(ctx).out.print(f"{'created' if status == 201 else 'replaced'} {ident}")

    @app.command("delete")
    def delete_item(
        ctx: typer.Context, ident: Ident, alerting_url: AlertingUrl = None, api_key: AdminKey = None
    ) -> None:
        """Delete one (needs an admin key)."""
        request(cli_context(ctx), _client(ctx, alerting_url, api_key), "DELETE", f"/v1/{plural}/{ident}")
        cli_context(ctx).out.print(f"deleted {ident}")


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    status = item.get("status") or {}
    return {
        **{k: v for k, v in item.items() if not isinstance(v, dict | list)},
        "id": item.get("rule_id") or item.get("notifier_id") or item.get("objective_id"),
        "sli value": None if status.get("sli") is None else round(status["sli"], 5),
        # "+": the read stopped at its bound, the budget is that of the newest events only
        "budget left": None
        if not status
        else f"{status['budget_remaining']:.1%}{'+' if status.get('truncated') else ''}",
        "burn 1h": None if not status else round(status["burn_rates"].get("1h", 0.0), 2),
        "burning": None if not status else ", ".join(k for k, v in status["burning"].items() if v) or "no",
    }


_crud(rules_app, "rules", ("id", "kind", "metric", "app", "comparison", "threshold", "window_s", "severity"))
_crud(notifiers_app, "notifiers", ("id", "kind", "url", "secret_ref", "min_severity"))
_crud(
    objectives_app,
    "objectives",
    ("id", "app", "sli", "threshold", "target", "window_days", "sli value", "budget left", "burn 1h", "burning"),
)
