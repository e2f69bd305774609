"""`llmops policies`: the tenant's governance policies through the governance service (list, get, put, delete).

A policy is a YAML (or JSON) file: ``name``, optional ``description`` and ``enabled``, and ``settings`` typed by
their ``kind`` (``model_allowlist``, ``blocked_terms``, ``data_classification``, ``model_classification``,
``pii_redaction``, ``retention``, ``rbac_role``; docs/governance.md#policies). Writing needs an admin key. Exit
codes as for `llmops prompts`: 0 success; 1 the service failed or could not be reached; 2 bad input (including
a 4xx from the service, whose message names the field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmops_cli.context import cli_context
from llmops_cli.keys import GovernanceUrl, governance_client
from llmops_cli.options import Json
from llmops_cli.prompts_cmd import AdminKey, print_json, read_definition, request, table

__all__ = ["policies_app"]

policies_app = typer.Typer(help="Manage governance policies (allow-lists, blocked terms, classifications, ...).",
                           no_args_is_help=True)  # fmt: skip
PolicyId = Annotated[str, typer.Argument(help="The policy's id, e.g. support-terms")]
SUMMARY_ITEMS = 4
"""Models or labels a summary names before it says how many more."""


def _listed(values: list[str]) -> str:
    more = len(values) - SUMMARY_ITEMS
    return ", ".join(values[:SUMMARY_ITEMS]) + (f" (+{more})" if more > 0 else "")


def summary(settings: dict[str, Any]) -> str:
    """One line on what a policy does (terms are counted, not shown: they are sensitive)."""
    kind = settings["kind"]
    if kind == "model_allowlist":
        return f"models: {_listed(settings['models'])}"
    if kind == "blocked_terms":
        return f"{len(settings['terms'])} blocked terms"
    if kind == "data_classification":
        return f"data: {settings['classification']}"
    if kind == "model_classification":
        return "cleared: " + _listed([f"{m}<={c}" for m, c in settings["max_classification"].items()])
    if kind == "pii_redaction":
        return f"{settings.get('action', 'mask')}: {_listed(settings['entities'])}"
    if kind == "retention":
        return f"{settings['dataset']}: {settings['days']} days"
    return f"role {settings.get('role', '?')}"


def _rows(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**p, "app": p["settings"].get("app") or ("-" if "app" not in p["settings"] else "*"),
         "does": summary(p["settings"])}
        for p in policies
    ]  # fmt: skip


COLUMNS = ["policy_id", "kind", "app", "does", "enabled", "version", "updated_by", "updated_at"]


@policies_app.command("list")
def list_policies(
    ctx: typer.Context, governance_url: GovernanceUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """Your tenant's policies: kind, the app it applies to (* every app), what it does, version."""
    cli = cli_context(ctx)
    _, body = request(cli, governance_client(ctx, governance_url, api_key), "GET", "/v1/policies")
    if json_output:
        print_json(cli, body)
        return
    cli.out.print(table(_rows(body["policies"]), COLUMNS))


@policies_app.command("get")
def get_policy(
    ctx: typer.Context,
    policy_id: PolicyId,
    governance_url: GovernanceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """One policy, its settings in full."""
    cli = cli_context(ctx)
    _, body = request(cli, governance_client(ctx, governance_url, api_key), "GET", f"/v1/policies/{policy_id}")
    if json_output:
        print_json(cli, body)
        return
    cli.out.print(table(_rows([body]), COLUMNS))
    print_json(cli, body["settings"])


@policies_app.command("put")
def put_policy(
    ctx: typer.Context,
    policy_id: PolicyId,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML: name, settings, ...")],
    governance_url: GovernanceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Create or replace a policy from FILE; the gateway enforces it within seconds."""
    cli = cli_context(ctx)
    definition = read_definition(cli, file)
    client = governance_client(ctx, governance_url, api_key)
    status, body = request(cli, client, "PUT", f"/v1/policies/{policy_id}", json=definition)
    if json_output:
        print_json(cli, body)
        return
    what = "created" if status == 201 else "saved"
    cli.out.print(f"{body['policy_id']}: {what}, version {body['version']} ({summary(body['settings'])})")


@policies_app.command("delete")
def delete_policy(
    ctx: typer.Context, policy_id: PolicyId, governance_url: GovernanceUrl = None, api_key: AdminKey = None
) -> None:
    """Delete a policy: it stops applying within seconds (its history stays in the warehouse)."""
    cli = cli_context(ctx)
    _, body = request(cli, governance_client(ctx, governance_url, api_key), "DELETE", f"/v1/policies/{policy_id}")
    cli.out.print(f"{body['policy_id']}: deleted (was version {body['version']})")
