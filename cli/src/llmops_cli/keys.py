"""`llmops keys`: API keys for the keys file the services read (``LLMOPS_API_KEYS_FILE``)."""

from __future__ import annotations

import json
import re
import time
from enum import StrEnum
from typing import Annotated

import typer

from llmops_cli.context import cli_context

__all__ = ["keys_app"]

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Role(StrEnum):
    admin = "admin"
    writer = "writer"
    reader = "reader"
    ingest = "ingest"
    reviewer = "reviewer"


def _tenant(value: str) -> str:
    if not _TENANT.match(value):
        raise typer.BadParameter("lower-case letters, digits, '-' and '_', starting with a letter or digit (max 63)")
    return value


@keys_app.command("create")
def create(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant the key is bound to", callback=_tenant)],
    role: Annotated[Role, typer.Option(help="What the key may do")] = Role.writer,
    key_id: Annotated[str | None, typer.Option("--id", help="Public id [default: <tenant>-<role>-<unix time>]")] = None,
) -> None:
    """Create a key: prints it once, and its hashed entry for the keys file (the key itself is not stored)."""
    from llmops_kit.auth import ApiKeyRecord, generate_key, hash_key
    from pydantic import ValidationError

    cli = cli_context(ctx)
    key = generate_key()
    entry = {
        "id": key_id or f"{tenant}-{role.value}-{int(time.time())}",
        "tenant_id": tenant,
        "role": role.value,
        "sha256": hash_key(key),
    }
    try:
        record = ApiKeyRecord.model_validate(entry)
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors()), param_hint="--id") from exc
    cli.err.print("API key (shown once, keep it now):", highlight=False)
    typer.echo(key)
    cli.err.print("Its entry for the keys file (LLMOPS_API_KEYS_FILE; JSON is valid YAML):", highlight=False)
    typer.echo(json.dumps({"keys": [record.model_dump()]}, indent=2))
