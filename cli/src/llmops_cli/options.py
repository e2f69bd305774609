"""Options several commands share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from llmops_cli.render import parse_duration

__all__ = ["ApiKey", "IngestUrl", "Json", "Since", "WarehouseUrl", "seconds", "since_start"]

IngestUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_INGEST_URL",
        help="Ingest base URL (default: that of a running `llmops up`, else http://127.0.0.1:8001)",
        show_default=False,
    ),
]
WarehouseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_WAREHOUSE_URL",
        help="Warehouse base URL (default: that of a running `llmops up`, else http://127.0.0.1:8002)",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="LLMOPS_API_KEY", help="API key (default: the writer key `llmops up` created)", show_default=False
    ),
]
Since = Annotated[str, typer.Option(help="How far back: minutes (90) or 45s, 30m, 2h, 7d")]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer instead of a table")]


def seconds(text: str, option: str) -> int:
    """A duration option in seconds; a usage error (exit 2) when it is not one."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc


def since_start(since: str) -> str:
    """The ISO 8601 start of a ``--since`` window ending now."""
    return (datetime.now(UTC) - timedelta(seconds=seconds(since, "--since"))).isoformat()
