"""What the alerting service needs beyond the kit's ``EventPublisher``: closing outbox records, and secrets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from llmops_kit.warehouse import HistoryReader

__all__ = ["MetricsReader", "OutboxCloser", "Secrets"]


class OutboxCloser(Protocol):
    """Removes delivered notifications from the outbox topic (a tombstone under each record key)."""

    async def close(self, topic: str, keys: Sequence[str]) -> None:
        """Returns once Kafka acknowledged every tombstone (or raises)."""
        ...


class Secrets:
    """Notifier secrets by name, from a JSON object file (a mounted Secret); never logged, never in events."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values = dict(values or {})

    @classmethod
    def load(cls, path: Path | None, text: str | None = None) -> Secrets:
        """The secrets of the file and of ``text`` (the same JSON object); neither: none (notifiers that need
        one are refused until it is configured)."""
        values: dict[str, str] = {}
        for where, raw in (
            ("the secrets file", path.read_text(encoding="utf-8") if path else None),
            ("ALERTING_SECRETS_JSON", text),
        ):
            if raw is None:
                continue
            data = json.loads(raw)
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise ValueError(f"{where} must hold a JSON object of strings")
            values |= data
        return cls(values)

    def get(self, name: str | None) -> str | None:
        return None if name is None else self._values.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._values


class MetricsReader(HistoryReader, Protocol):
    """The warehouse's call metrics and stored events (the kit's ``WarehouseReader`` with the service key)."""

    async def metrics_summary(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``GET /v1/metrics/summary`` (one per group, or one)."""
        ...

    async def metrics_timeseries(self, tenant: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``GET /v1/metrics/timeseries`` (one per bucket and group)."""
        ...
