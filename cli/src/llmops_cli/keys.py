"""`llmops keys`: API keys through the governance service (create, list, rotate, revoke), and offline.

Through the service (the default), a key belongs to the tenant of the admin key that creates it, and every
service accepts or refuses it within seconds. ``create --offline`` is the bootstrap mode: it prints a key and
its hashed entry for the keys file the services read at start (``LLMOPS_API_KEYS_FILE``), e.g. the first admin
key, or a platform service's key (role ``service``, tenant ``*``). Exit codes as for `llmops prompts`: 0 success;
1 the service failed or could not be reached; 2 bad input (including a 4xx from the service).
"""

from __future__ import annotations

import json
import re
import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from llmops_cli.context import cli_context
from llmops_cli.options import Json
from llmops_cli.prompts_cmd import AdminKey, GatewayClient, print_json, request, service_client, table

__all__ = ["DEFAULT_GOVERNANCE_URL", "governance_client", "keys_app"]

DEFAULT_GOVERNANCE_URL = "http://127.0.0.1:8007"

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)

_TENANT = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62}|\*)$")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    developer = "developer"
    analyst = "analyst"
    viewer = "viewer"
    reviewer = "reviewer"
    ingest = "ingest"
    service = "service"
    writer = "writer"
    reader = "reader"


GovernanceUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_GOVERNANCE_URL",
        help=f"Governance service base URL (default: that of a running `llmops up`, else {DEFAULT_GOVERNANCE_URL})",
        show_default=False,
    ),
]
KeyId = Annotated[str, typer.Argument(help="The key's id (`llmops keys list`)")]


def _tenant(value: str | None) -> str | None:
    if value is not None and not _TENANT.match(value):
        raise typer.BadParameter("lower-case letters, digits, '-' and '_', starting with a letter or digit (max 63)")
    return value


def _seconds(value: str | None) -> int | None:
    """``90d``, ``12h``, ``30m``, ``45s`` as seconds."""
    if value is None:
        return None
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise typer.BadParameter("a duration such as 90d, 12h, 30m or 45s")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def governance_client(ctx: typer.Context, url: str | None, api_key: str | None) -> GatewayClient:
    """A client of the governance service (keys, policies), as `llmops prompts` finds the gateway."""
    return service_client(
        ctx, url, api_key, state_key="governance_url", default=DEFAULT_GOVERNANCE_URL, what="the governance service"
    )


def _print_new_key(ctx: typer.Context, created: dict[str, Any], json_output: bool) -> None:
    cli = cli_context(ctx)
    cli.err.print("API key (shown once, keep it now):", highlight=False)
    typer.echo(created["key"])
    if json_output:
        print_json(cli, {k: v for k, v in created.items() if k != "key"})
        return
    expires = created.get("expires_at") or "never"
    cli.err.print(f"id {created['key_id']}, role {created['role']}, expires {expires}", highlight=False)


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="What the key is for [default: <role> key]")] = None,
    role: Annotated[Role, typer.Option(help="What the key may do (docs/governance.md#roles)")] = Role.developer,
    expires_in: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d or 12h [default: the service's]")] = None,
    offline: Annotated[bool, typer.Option(help="Print a keys-file entry instead (bootstrap)")] = False,
    tenant: Annotated[str | None, typer.Option(help="With --offline: the key's tenant", callback=_tenant)] = None,
    key_id: Annotated[
        str | None, typer.Option("--id", help="With --offline: its id [default: <tenant>-<role>-<time>]")
    ] = None,
    governance_url: GovernanceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Create a key (printed once, on the first line of stdout): through the governance service, for your admin
    key's tenant; or with --offline --tenant T, an entry for the services' keys file (the bootstrap mode)."""
    cli = cli_context(ctx)
    lifetime = _seconds(expires_in)
    if offline:
        _create_offline(ctx, tenant, role, key_id, lifetime)
        return
    if tenant is not None or key_id is not None:
        raise cli.fail("--tenant and --id go with --offline: a key made through the service is your tenant's", 2)
    body: dict[str, Any] = {"name": name or f"{role.value} key", "role": role.value, "expires_in_s": lifetime}
    _, created = request(cli, governance_client(ctx, governance_url, api_key), "POST", "/v1/keys", json=body)
    _print_new_key(ctx, created, json_output)


def _create_offline(
    ctx: typer.Context, tenant: str | None, role: Role, key_id: str | None, lifetime: int | None
) -> None:
    from datetime import UTC, datetime, timedelta

    from llmops_kit.auth import ApiKeyRecord, generate_key, hash_key
    from pydantic import ValidationError

    cli = cli_context(ctx)
    if tenant is None:
        raise typer.BadParameter("--offline needs --tenant (or '*' for a service key)", param_hint="--tenant")
    key = generate_key()
    entry: dict[str, Any] = {
        "id": key_id or f"{'platform' if tenant == '*' else tenant}-{role.value}-{int(time.time())}",
        "tenant_id": tenant,
        "role": role.value,
        "sha256": hash_key(key),
    }
    if lifetime is not None:
        entry["expires_at"] = datetime.now(UTC) + timedelta(seconds=lifetime)
    try:
        record = ApiKeyRecord.model_validate(entry)
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors()), param_hint="--id") from exc
    cli.err.print("API key (shown once, keep it now):", highlight=False)
    typer.echo(key)
    cli.err.print("Its entry for the keys file (LLMOPS_API_KEYS_FILE; JSON is valid YAML):", highlight=False)
    typer.echo(json.dumps({"keys": [record.model_dump(mode="json", exclude_none=True)]}, indent=2))


@keys_app.command("list")
def list_keys(
    ctx: typer.Context, governance_url: GovernanceUrl = None, api_key: AdminKey = None, json_output: Json = False
) -> None:
    """Your tenant's keys: id, name, role, status (active, rotated, revoked, expired) and expiry; never a key."""
    cli = cli_context(ctx)
    _, body = request(cli, governance_client(ctx, governance_url, api_key), "GET", "/v1/keys")
    if json_output:
        print_json(cli, body)
        return
    columns = ["key_id", "name", "role", "status", "source", "expires_at", "rotated_to"]
    cli.out.print(table(body["keys"], columns))


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    key_id: KeyId,
    grace: Annotated[
        str | None, typer.Option(help="How long the old key stays valid, e.g. 1h [default: the service's]")
    ] = None,
    governance_url: GovernanceUrl = None,
    api_key: AdminKey = None,
    json_output: Json = False,
) -> None:
    """Replace a key by a new one (printed once); the old one keeps working for the grace period, then stops."""
    cli = cli_context(ctx)
    body = {"grace_s": _seconds(grace)}
    _, created = request(
        cli, governance_client(ctx, governance_url, api_key), "POST", f"/v1/keys/{key_id}/rotate", json=body
    )
    _print_new_key(ctx, created, json_output)


@keys_app.command("revoke")
def revoke(ctx: typer.Context, key_id: KeyId, governance_url: GovernanceUrl = None, api_key: AdminKey = None) -> None:
    """Revoke a key: every service refuses it within seconds, without a restart."""
    cli = cli_context(ctx)
    _, body = request(cli, governance_client(ctx, governance_url, api_key), "DELETE", f"/v1/keys/{key_id}")
    cli.out.print(f"{body['key_id']}: {body['status']}")
