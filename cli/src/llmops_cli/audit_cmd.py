"""`llmops audit`: verify the tamper-evident audit trail, explain a stored call, make a signing key.

``verify`` reads the tenant's chained entries and signed digests through the warehouse's read API (the kit's
:class:`~llmops_kit.platform_client.WarehouseReader`) and recomputes the chain (:func:`llmops_kit.audit_verify.
verify_chain`) against the public keys it is given, never keys read from the store it checks. Exit codes: 0 the
chain is intact; 1 the warehouse could not be read; 2 bad input; 3 the chain was tampered with.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from llmops_kit.audit_digests import (
    DigestChecker,
    DigestSigner,
    KeyFormatError,
    generate_private_key,
    public_key_text,
)
from llmops_kit.audit_verify import ChainReport, verify_chain
from llmops_kit.platform_client import PlatformCallError, PlatformClient, WarehouseReader

from llmops_cli.audit_explain import explain as explain_call
from llmops_cli.config import data_dir, load_config
from llmops_cli.context import CliContext, cli_context
from llmops_cli.options import ApiKey, Json, WarehouseUrl

__all__ = ["AUDIT_PUBLIC_KEY_FILE", "audit_app", "ensure_audit_signing_key", "read_chain"]

audit_app = typer.Typer(
    help="The audit trail: verify its chain, explain what was in force for a call, make a digest signing key."
)

AUDIT_PUBLIC_KEY_FILE = "audit-signing.pub"
"""Where `llmops up` leaves the public key of the digests it has the governance-audit service sign."""
TAMPERED = 3
_PAGE_TIMEOUT_S = 60.0
"""How long one page of the warehouse may take (a page is 1,000 entries)."""


def ensure_audit_signing_key(directory: Path) -> str:
    """The private key `llmops up` has the governance-audit service sign digests with: the environment's
    ``GOVERNANCE_AUDIT_SIGNING_KEY``, else one made once in ``directory`` (mode 0600), its public key beside it
    (:data:`AUDIT_PUBLIC_KEY_FILE`, where ``verify`` finds it)."""
    configured = os.environ.get("GOVERNANCE_AUDIT_SIGNING_KEY")
    if configured:
        return configured
    path = directory / "audit-signing.key"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(generate_private_key())
    private = path.read_text().strip()
    (directory / AUDIT_PUBLIC_KEY_FILE).write_text(public_key_text(DigestSigner.from_text(private).public_key))
    return private


PublicKeys = Annotated[
    list[str] | None,
    typer.Option(
        "--public-key",
        help="A digest public key (base64 of 32 bytes, PEM, or a file holding either); repeat for rotated keys. "
        "Default: $LLMOPS_AUDIT_PUBLIC_KEY, else the key of a local `llmops up`",
        show_default=False,
    ),
]


def _key_texts(cli: CliContext, given: list[str] | None) -> list[str]:
    """The public keys to check digests with: the options, else the environment, else `llmops up`'s file."""
    texts = list(given or [])
    if not texts and os.environ.get("LLMOPS_AUDIT_PUBLIC_KEY"):
        texts = [os.environ["LLMOPS_AUDIT_PUBLIC_KEY"]]
    local = data_dir() / AUDIT_PUBLIC_KEY_FILE
    if not texts and local.is_file():
        texts = [str(local)]
    if not texts:
        raise cli.fail("no public key to check the digests with: pass --public-key", code=2)
    return [Path(t).read_text() if len(t) < 4096 and Path(t).is_file() else t for t in texts]


def _async(cli: CliContext) -> httpx.AsyncBaseTransport | None:
    """The context's transport when it also serves async clients (tests' ``httpx.MockTransport``)."""
    return cli.transport if isinstance(cli.transport, httpx.AsyncBaseTransport) else None


class OtherTenantError(ValueError):
    """The key reads another tenant than the one asked for (a tenant key always reads its own)."""


async def read_chain(reader: WarehouseReader, tenant: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every stored chained entry and digest of ``tenant`` (their payloads), page by page.

    A digest signs its tenant's id, so checking one tenant's rows as another's would report every digest as
    forged: rows of another tenant raise :class:`OtherTenantError` instead.

    Digests are read first: a live chain grows while it is read (this very read is audited into it), and a
    digest read after the chain could sign entries the chain read did not see, a false ``truncated``. A digest
    read first signs only entries chained before it, which the chain read after holds (once the warehouse has
    stored them: its lag on the chain topic alone can still show a fresh tail as cut; verify again to tell).
    """
    await reader.start()
    try:
        digests = [_of(tenant, item) async for item in reader.events(tenant, "audit_digests")]
        rows = [_of(tenant, item) async for item in reader.events(tenant, "audit_chain")]
    finally:
        await reader.stop()
    return rows, digests


def _of(tenant: str, item: dict[str, Any]) -> dict[str, Any]:
    if item.get("tenant_id") != tenant:
        raise OtherTenantError(f"this key reads tenant {item.get('tenant_id')!r}, not {tenant!r}: pass --tenant")
    data: dict[str, Any] = item["data"]
    return data


@audit_app.command()
def verify(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="The tenant to verify (a tenant key can only read its own)")] = "demo",
    public_key: PublicKeys = None,
    as_json: Json = False,
    warehouse_url: WarehouseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Recompute the tenant's audit chain from the warehouse and check it against the signed digests."""
    cli = cli_context(ctx)
    try:
        checker = DigestChecker.from_texts(_key_texts(cli, public_key))
    except KeyFormatError as exc:
        raise cli.fail(str(exc), code=2) from exc
    config = load_config(None, warehouse_url, api_key)
    client = PlatformClient("warehouse", config.warehouse_url, config.api_key or "", timeout_s=_PAGE_TIMEOUT_S,
                            transport=_async(cli))  # fmt: skip
    reader = WarehouseReader(client)
    started = time.perf_counter()
    try:
        rows, digests = asyncio.run(read_chain(reader, tenant))
    except PlatformCallError as exc:
        raise cli.fail(f"reading the audit chain failed: {exc}") from exc
    except OtherTenantError as exc:
        raise cli.fail(str(exc), code=2) from exc
    read_s = time.perf_counter() - started
    report = verify_chain(tenant, rows, digests, checker)
    _print(cli, report, read_s, time.perf_counter() - started - read_s, as_json)
    if not report.intact:
        raise typer.Exit(TAMPERED)


def _print(cli: CliContext, report: ChainReport, read_s: float, verify_s: float, as_json: bool) -> None:
    summary = {
        "tenant_id": report.tenant_id, "intact": report.intact, "entries": report.entries,
        "digests": report.digests, "signed_through": report.signed_through, "unsigned": report.unsigned,
        "findings": [{"kind": f.kind, "position": f.position, "message": f.message} for f in report.findings],
        "read_s": round(read_s, 3), "verify_s": round(verify_s, 3),
    }  # fmt: skip
    if as_json:
        cli.out.print_json(json.dumps(summary))
        return
    state = "[green]intact[/green]" if report.intact else "[red]TAMPERED[/red]"
    cli.out.print(
        f"{report.tenant_id}: {state}: {report.entries:,} entries, {report.digests:,} valid digests, signed through "
        f"{report.signed_through:,} ({report.unsigned:,} not yet signed); verified in {verify_s:.2f} s"
    )
    for finding in report.findings:
        where = "" if finding.position is None else f" at {finding.position:,}"
        cli.out.print(f"  {finding.kind}{where}: {finding.message}", highlight=False)


async def _explained(reader: WarehouseReader, tenant: str, call_id: str) -> dict[str, Any] | None:
    await reader.start()
    try:
        found = await explain_call(reader, tenant, call_id)
    finally:
        await reader.stop()
    return found.as_json() if found is not None else None


@audit_app.command()
def explain(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(help="A stored call's id")],
    tenant: Annotated[str, typer.Option(help="The call's tenant (a tenant key can only read its own)")] = "demo",
    warehouse_url: WarehouseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """What was in force when a stored call was made: its prompt version and labels, the experiment's weights,
    the governance policies, and its API key with the key's last changes (as JSON)."""
    cli = cli_context(ctx)
    config = load_config(None, warehouse_url, api_key)
    reader = WarehouseReader(PlatformClient("warehouse", config.warehouse_url, config.api_key or "",
                                            transport=_async(cli)))  # fmt: skip
    try:
        found = asyncio.run(_explained(reader, tenant, call_id))
    except PlatformCallError as exc:
        raise cli.fail(f"reading the call's history failed: {exc}", code=2 if 400 <= exc.status < 500 else 1) from exc
    if found is None:
        raise cli.fail(f"the warehouse has no call {call_id!r} for {tenant}", code=2)
    cli.out.print_json(json.dumps(found, default=str))


@audit_app.command()
def keygen(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Write the private key here (mode 0600) instead of stdout")] = None,
) -> None:
    """Make an Ed25519 key for the digests: the private key for GOVERNANCE_AUDIT_SIGNING_KEY, the public one for
    `llmops audit verify --public-key`."""
    cli = cli_context(ctx)
    private = generate_private_key()
    public = public_key_text(DigestSigner.from_text(private).public_key)
    if out is None:
        cli.out.print(f"GOVERNANCE_AUDIT_SIGNING_KEY={private}", highlight=False)
    else:
        with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(private)
        cli.out.print(f"private key written to {out}")
    cli.out.print(f"public key (llmops audit verify --public-key): {public}", highlight=False)


@audit_app.command("public-key")
def public_key(ctx: typer.Context) -> None:
    """Read a digest signing key (PEM or base64) on standard input, print its public key for `verify`: e.g. the
    key a Helm release generated (docs/governance.md)."""
    cli = cli_context(ctx)
    try:
        signer = DigestSigner.from_text(sys.stdin.read(16_384).strip())
    except KeyFormatError as exc:
        raise cli.fail(f"not a signing key: {exc}", code=2) from exc
    cli.out.print(public_key_text(signer.public_key), highlight=False)
