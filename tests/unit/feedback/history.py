"""A fake of the kit's :class:`~llmops_kit.warehouse.HistoryReader`: stored rows per tenant and table, in memory.

It answers like the warehouse's generic read: newest first (by ``time``), tenant-scoped, filtered on ``start``
/``end`` (the row's time) and on the payload fields the warehouse filters on (``app``, ``model``, ``call_id``,
``prompt_name``), bounded by ``max_rows`` with ``truncated``. ``history_contract.py`` runs the same checks
against this fake and the real reader on a real warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from llmops_kit.warehouse import HistoryRows, HistoryUnavailable

FILTERED = ("app", "model", "call_id")


class InMemoryHistory:
    """``add(tenant, table, data, time)`` stores a row; ``read`` answers as the warehouse would."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.unavailable = False
        self.reads: list[tuple[str, str, dict[str, str]]] = []

    def add(
        self, tenant: str, table: str, data: dict[str, Any], time: datetime, key_id: str | None = None,
        event_id: str | None = None,
    ) -> None:  # fmt: skip
        row = {"tenant_id": tenant, "time": time.isoformat(), "data": data, "key_id": key_id, "event_id": event_id}
        self._rows.setdefault((tenant, table), []).append(row)

    @staticmethod
    def _matches(row: dict[str, Any], params: Mapping[str, str]) -> bool:
        time = datetime.fromisoformat(row["time"])
        if "start" in params and time < datetime.fromisoformat(params["start"]):
            return False
        if "end" in params and time >= datetime.fromisoformat(params["end"]):
            return False
        prompt = row["data"].get("prompt") or {}
        if "prompt_name" in params and prompt.get("name") != params["prompt_name"]:
            return False
        return all(row["data"].get(name) == params[name] for name in FILTERED if name in params)

    async def read(self, tenant: str, table: str, params: Mapping[str, str], max_rows: int) -> HistoryRows:
        if self.unavailable:
            raise HistoryUnavailable("the warehouse answered 503", 7)
        self.reads.append((tenant, table, dict(params)))
        rows = [r for r in self._rows.get((tenant, table), []) if self._matches(r, params)]
        rows.sort(key=lambda r: r["time"], reverse=True)
        return HistoryRows(rows[:max_rows], truncated=len(rows) > max_rows)
