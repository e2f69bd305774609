"""Terminal tables for API results, and the time arguments the query commands take."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

__all__ = [
    "CALL_COLUMNS",
    "HEADERS",
    "METRIC_COLUMNS",
    "TIMESERIES_COLUMNS",
    "call_rows",
    "format_errors",
    "parse_duration",
    "table",
]

CALL_COLUMNS = ("started_at", "call_id", "app", "model", "status", "total_tokens", "latency_ms")
METRIC_COLUMNS = (
    "group",
    "calls",
    "errors",
    "error_rate",
    "total_tokens",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)
"""Summary columns; prompt and completion tokens are in ``--json`` (ten columns do not fit a terminal)."""
TIMESERIES_COLUMNS = ("bucket_start", *METRIC_COLUMNS)

HEADERS: Mapping[str, str] = {
    "started_at": "started (UTC)",
    "bucket_start": "bucket (UTC)",
    "total_tokens": "tokens",
    "latency_ms": "latency ms",
    "error_rate": "error rate",
    "latency_p50_ms": "p50 ms",
    "latency_p95_ms": "p95 ms",
    "latency_p99_ms": "p99 ms",
}
"""Column headers (the API's field names, shortened so a table fits a terminal)."""

_NO_WRAP = frozenset({"started_at", "bucket_start"})
"""Values a narrow terminal must not break (the others fold)."""
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"s": 1, "": 60, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str) -> int:
    """Seconds in ``90`` (minutes), ``45s``, ``30m``, ``2h`` or ``7d``; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match or int(match[1]) <= 0:
        raise ValueError(f"'{text}' is not a duration: use e.g. 30 (minutes), 30m, 2h or 7d")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def _time(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M:%S")


def _percent(value: Any) -> str:
    return f"{float(value):.1%}"


_FORMATTERS: Mapping[str, Callable[[Any], str]] = {
    "started_at": _time,
    "bucket_start": _time,
    "error_rate": _percent,
}


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column in _FORMATTERS:
        return _FORMATTERS[column](value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    """A table of ``rows`` showing ``columns`` (missing values as ``-``); numbers right-aligned."""
    out = Table(title=title, header_style="bold cyan")
    for column in columns:
        numeric = any(isinstance(row.get(column), int | float) for row in rows)
        out.add_column(
            HEADERS.get(column, column),
            justify="right" if numeric else "left",
            overflow="fold",
            no_wrap=column in _NO_WRAP,
        )
    for row in rows:
        out.add_row(*(_cell(c, row.get(c)) for c in columns))
    return out


def call_rows(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Warehouse ``CallRow``s flattened for :data:`CALL_COLUMNS` (``total_tokens`` lives in ``usage``)."""
    return [{**item, "total_tokens": (item.get("usage") or {}).get("total_tokens")} for item in items]


def format_errors(errors: Any) -> str:
    """A rejected record's ``[{loc, msg, type}]`` as ``loc: msg (type); ...``."""
    if not isinstance(errors, list):
        return str(errors)
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        loc = ".".join(str(p) for p in error.get("loc") or []) or "record"
        kind = f" ({error['type']})" if error.get("type") else ""
        parts.append(f"{loc}: {error.get('msg', '?')}{kind}")
    return "; ".join(parts)
