"""The audit part of `llmops up`'s demo: the demo's configuration changes, chained by the governance-audit
service and signed, verified from the warehouse as `llmops audit verify` does (docs/governance.md)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from llmops_kit.audit_digests import DigestChecker
from llmops_kit.audit_verify import ChainReport, verify_chain
from llmops_kit.platform_client import PlatformCallError, PlatformClient, WarehouseReader
from rich.console import Console

from llmops_cli.audit_cmd import AUDIT_PUBLIC_KEY_FILE, read_chain

__all__ = ["run_audit_demo"]

SIGNED_TIMEOUT_S = 60.0
_POLL_S = 1.0


def _verify(warehouse_url: str, key: str, tenant: str, checker: DigestChecker) -> ChainReport:
    reader = WarehouseReader(PlatformClient("warehouse", warehouse_url, key))
    return verify_chain(tenant, *asyncio.run(read_chain(reader, tenant)), checker)


def run_audit_demo(warehouse_url: str, data_dir: Path, key: str, tenant: str, console: Console) -> None:
    """Wait (bounded) until the tenant's chain is stored and signed to its end, then print the verification."""
    checker = DigestChecker.from_texts([(data_dir / AUDIT_PUBLIC_KEY_FILE).read_text()])
    deadline = time.monotonic() + SIGNED_TIMEOUT_S
    try:
        report = _verify(warehouse_url, key, tenant, checker)
        # Each verify reads the audit tables, a privileged read with entries of its own: wait until the digests
        # cover the chain as it was before the first read (later entries are this loop's reads).
        target = report.entries
        while (target == 0 or report.signed_through < target - 1) and time.monotonic() < deadline:
            time.sleep(_POLL_S)  # the digests come every few seconds: poll for the condition, bounded
            report = _verify(warehouse_url, key, tenant, checker)
            target = target or report.entries
    except PlatformCallError as exc:
        console.print(f"[yellow]audit demo skipped: {exc}[/]")
        return
    state = "[green]✓[/green]" if report.intact and report.entries else "[yellow]![/yellow]"
    console.print(
        f"{state} audit: {report.entries} entries of {tenant}'s chain verified against {report.digests} signed "
        f"digests ({'intact' if report.intact else f'{len(report.findings)} findings'}): `llmops audit verify`"
    )
