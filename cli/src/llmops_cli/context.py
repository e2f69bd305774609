"""What every command shares: where output goes and how HTTP gets out (the seam tests use).

Tests pass their own through Click's context object, with no patching::

    runner.invoke(app, ["calls"], obj=CliContext(transport=httpx.MockTransport(handler)))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from llmops_cli.client import PlatformClient
from llmops_cli.config import load_config
from llmops_cli.consoles import make_console

__all__ = ["CliContext", "cli_context"]


@dataclass
class CliContext:
    """``out`` gets results (tables, JSON); ``err`` gets progress, status and errors."""

    transport: httpx.BaseTransport | None = None
    out: Console = field(default_factory=make_console)
    err: Console = field(default_factory=lambda: make_console(stderr=True))

    def client(self, ingest_url: str | None, warehouse_url: str | None, api_key: str | None) -> PlatformClient:
        return PlatformClient(load_config(ingest_url, warehouse_url, api_key), transport=self.transport)

    def fail(self, message: str, code: int = 1) -> typer.Exit:
        """Print ``error: message`` to stderr; ``raise ctx.fail(...)`` ends the command with ``code``."""
        self.err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        return typer.Exit(code)


def cli_context(ctx: typer.Context) -> CliContext:
    """The invocation's :class:`CliContext` (a default one unless the caller passed ``obj``)."""
    return ctx.ensure_object(CliContext)
