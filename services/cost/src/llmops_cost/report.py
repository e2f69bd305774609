"""Spend aggregates: stored cost records summed per period and per app, model, prompt version, variant or key.

The records come from the warehouse, which keeps each cost event once (its id is derived from the call, see
:mod:`llmops_cost.handlers`, and the generic read returns one row per event id), so a sum over them counts
every call exactly once however often it was priced (docs/adr/0037). Amounts stay decimal end to end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["GROUPS", "PERIODS", "GroupBy", "Period", "ReportRow", "aggregate", "period_start"]

Period = Literal["minute", "hour", "day", "month"]
GroupBy = Literal["tenant", "app", "model", "prompt", "variant", "key"]
PERIODS: tuple[str, ...] = ("minute", "hour", "day", "month")
GROUPS: tuple[str, ...] = ("tenant", "app", "model", "prompt", "variant", "key")


def period_start(at: datetime, period: Period) -> datetime:
    """The start (UTC) of the period ``at`` falls in."""
    at = at.astimezone(UTC)
    if period == "minute":
        return at.replace(second=0, microsecond=0)
    if period == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    if period == "day":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _group(data: Mapping[str, Any], tenant: str, group_by: GroupBy) -> str:
    """The group of one record; ``-`` for a call without a prompt, an experiment or a key."""
    if group_by == "tenant":
        return tenant
    if group_by == "prompt":
        name = data.get("prompt_name")
        return f"{name}@{data.get('prompt_version')}" if name else "-"
    if group_by == "variant":
        experiment = data.get("experiment_id")
        return f"{experiment}/{data.get('variant')}" if experiment else "-"
    value = data.get("key_id" if group_by == "key" else group_by)
    return str(value) if value else "-"


class ReportRow(BaseModel):
    """One group in one period: calls, calls without a price, calls with estimated tokens, and the spend."""

    period_start: datetime
    group: str
    calls: int
    unpriced: int
    estimated: int
    prompt_tokens: int
    completion_tokens: int
    usd: Decimal


@dataclass
class _Sum:
    calls: int = 0
    unpriced: int = 0
    estimated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: Decimal = field(default_factory=Decimal)

    def add(self, data: Mapping[str, Any]) -> None:
        self.calls += 1
        self.prompt_tokens += int(data.get("prompt_tokens") or 0)
        self.completion_tokens += int(data.get("completion_tokens") or 0)
        self.estimated += bool(data.get("tokens_estimated"))
        cost = data.get("cost")
        if cost is None:
            self.unpriced += 1
        else:
            self.usd += Decimal(str(cost))


def aggregate(rows: Iterable[Mapping[str, Any]], tenant: str, group_by: GroupBy, period: Period) -> list[ReportRow]:
    """Sum the warehouse's cost rows (``time`` is the call's start, ``data`` the payload), oldest period first."""
    sums: dict[tuple[datetime, str], _Sum] = {}
    for row in rows:
        data = row["data"]
        at = datetime.fromisoformat(str(data["call_started_at"]).replace("Z", "+00:00"))
        key = (period_start(at, period), _group(data, tenant, group_by))
        sums.setdefault(key, _Sum()).add(data)
    return [
        ReportRow(period_start=start, group=group, **vars(total))
        for (start, group), total in sorted(sums.items(), key=lambda item: (item[0][0], item[0][1]))
    ]
